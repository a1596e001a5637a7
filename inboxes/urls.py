from django.urls import path

from inboxes import composing_views, member_views, profile_views, status_views, views

org = "settings/orgs/<uuid:org_id>/"
team = org + "teams/<uuid:team_id>/"

urlpatterns = [
    path("settings/", views.settings_home, name="settings_home"),
    path("settings/profile/", views.profile_settings, name="settings_profile"),
    path("settings/profile/save/", views.profile_update, name="settings_profile_update"),
    path("settings/profile/search/", views.search_preferences_update, name="settings_search_update"),
    path(org, views.organization_settings, name="settings_organization"),
    path(org + "save/", views.organization_update, name="settings_organization_update"),
    path(org + "users/", views.users_settings, name="settings_users"),
    path(org + "users/invite/", views.invite_user, name="settings_invite"),
    path(
        org + "users/invitations/<int:invitation_id>/revoke/",
        views.revoke_invitation,
        name="settings_invitation_revoke",
    ),
    path(org + "users/<uuid:user_id>/role/", views.change_role, name="settings_member_role"),
    path(org + "users/<uuid:user_id>/remove/", views.remove_member, name="settings_member_remove"),
    path(org + "users/<uuid:user_id>/", member_views.member_settings, name="settings_member"),
    path(org + "users/<uuid:user_id>/profile/", profile_views.update_member_profile, name="settings_member_profile"),
    path(
        org + "users/<uuid:user_id>/mention-groups/",
        member_views.add_mention_group,
        name="settings_mention_group_add",
    ),
    path(
        org + "users/<uuid:user_id>/mention-groups/<uuid:group_id>/remove/",
        member_views.remove_mention_group,
        name="settings_mention_group_remove",
    ),
    path(org + "users/<uuid:user_id>/status/", status_views.member_status, name="settings_member_status"),
    path("status/<uuid:org_id>/", status_views.my_status, name="my_status"),
    path("status/<uuid:org_id>/clear/", status_views.clear_my_status, name="my_status_clear"),
    path(org + "teams/", views.teams_settings, name="settings_teams"),
    path(org + "teams/new/", views.create_team, name="settings_team_create"),
    path(team, views.team_settings, name="settings_team"),
    path(team + "save/", views.update_team, name="settings_team_update"),
    path(team + "members/", views.set_team_members, name="settings_team_members"),
    path(team + "delete/", views.delete_team, name="settings_team_delete"),
    path(org + "accounts/", views.accounts_settings, name="settings_accounts"),
    path(org + "personal/", views.personal_settings, name="settings_personal"),
    path(org + "personal/save/", views.personal_update, name="settings_personal_update"),
    path(org + "composing/", composing_views.composing_settings, name="settings_composing"),
    path(org + "composing/save/", composing_views.composing_update, name="settings_composing_update"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
