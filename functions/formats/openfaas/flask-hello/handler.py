def handle(req):
    return "Hello from Flask, " + (req or "stranger")
