from django_onestep import DatabaseQueue, app

orders = DatabaseQueue("firsthour.celery_orders")


@app.task(name="x", source=orders, bind=True)
def process_order(self, payload):
    return payload
