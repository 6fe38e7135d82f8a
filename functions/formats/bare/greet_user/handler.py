def handle(req):
    return f"Hi {req.strip() or 'there'}, from a bare folder"
