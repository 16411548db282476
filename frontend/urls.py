from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.project_list, name="project-list"),
    path("projects/<int:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<int:project_id>/label/", views.workspace, name="workspace"),
    path("projects/<int:project_id>/ontology/", views.ontology_editor, name="ontology-editor"),
    path("projects/<int:project_id>/review/", views.review_page, name="review"),
    path("projects/<int:project_id>/agreement/", views.agreement_page, name="agreement"),
    path("projects/<int:project_id>/quality/", views.quality_page, name="quality"),
    path("projects/<int:project_id>/guide/", views.guide_page, name="guide"),
]
