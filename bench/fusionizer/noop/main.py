def handler(context, event, requests_session):
    return ""
