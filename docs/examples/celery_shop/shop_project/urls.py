from django.urls import path
from orders import views

urlpatterns = [
    path("orders/", views.create_order),
    path("orders/<int:order_id>/pay/", views.pay_order),
    path("exports/", views.start_export),
    path("exports/<str:task_id>/", views.export_status),
]
