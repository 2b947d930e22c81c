from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.orders, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order-detail"),
]
