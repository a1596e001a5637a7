from django.urls import path

from rules import views

rules = "settings/orgs/<uuid:org_id>/rules/"
rule = rules + "<uuid:rule_id>/"

urlpatterns = [
    path(rules, views.rules_settings, name="settings_rules"),
    path(rules + "personal/", views.personal_rules_settings, name="settings_rules_personal"),
    path(rules + "new/", views.new_rule, name="settings_rule_new"),
    path(rules + "editor/", views.editor, name="settings_rule_editor"),
    path(rule, views.edit_rule, name="settings_rule"),
    path(rule + "toggle/", views.toggle_rule, name="settings_rule_toggle"),
    path(rule + "delete/", views.delete_rule, name="settings_rule_delete"),
    path(rule + "duplicate/", views.duplicate_rule, name="settings_rule_duplicate"),
    path(rule + "export/", views.export_rule, name="settings_rule_export"),
    path(rule + "runs/", views.rule_runs, name="settings_rule_runs"),
]
