from django.urls import include, path

urlpatterns = [path("onestep/", include("django_onestep.urls"))]
