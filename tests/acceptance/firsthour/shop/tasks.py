from django_onestep import DatabaseQueue, app

orders = DatabaseQueue("firsthour.orders")


@app.task(source=orders)
def process_order(ctx, payload):
    return payload
