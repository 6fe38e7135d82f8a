import os


def handler(context, event):
    context.logger.info_with("adding", value1=event.body["value1"], value2=event.body["value2"])
    return event.body["value1"] + event.body["value2"] + int(os.environ["OFFSET"])
