from django.urls import path

from bands import views

app_name = "bands"

urlpatterns = [
    path("", views.band_list, name="list"),
    path("new/", views.band_create, name="create"),
    path("<uuid:band_id>/", views.band_detail, name="detail"),
    path("<uuid:band_id>/invite/", views.band_invite, name="invite"),
    path(
        "<uuid:band_id>/invitations/<int:invitation_id>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("<uuid:band_id>/leave/", views.band_leave, name="leave"),
    path("<uuid:band_id>/members/<int:user_id>/remove/", views.member_remove, name="remove"),
    path("<uuid:band_id>/members/<int:user_id>/role/", views.member_role, name="role"),
    path("<uuid:band_id>/members/<int:user_id>/owner/", views.member_make_owner, name="owner"),
    path("invitations/<int:invitation_id>/answer/", views.invitation_answer, name="answer"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
