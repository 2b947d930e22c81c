from django_onestep import MemoryQueue, OneStepApp

app = OneStepApp("mine")


@app.task(source=MemoryQueue("orders"))
def process_order(ctx, payload):
    return payload
