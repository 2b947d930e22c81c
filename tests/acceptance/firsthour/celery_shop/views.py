from django.http import HttpResponse

from .tasks import process_order


def create_order(request):
    process_order.enqueue({"order_id": 1})
    return HttpResponse("queued")
