"""GET, POST and PATCH /v1/shared_labels."""

from __future__ import annotations

from conversations.labels import do_create_label
from conversations.models import Label, LabelVisibility


def test_list_the_organizations_labels_with_their_paths(cast, api_as):
    parent = do_create_label(cast.org, acting_user=cast.owner, name="Billing")
    child = do_create_label(cast.org, acting_user=cast.owner, name="Refunds", parent=parent)
    do_create_label(cast.org, acting_user=cast.owner, name="Mine", personal=True)
    body = api_as(cast.teammate).get("/v1/shared_labels").json()
    by_name = {label["name"]: label for label in body["shared_labels"]}
    assert set(by_name) == {"Billing", "Refunds"}
    assert by_name["Refunds"]["name_with_parent_names"] == "Billing/Refunds"
    assert by_name["Refunds"]["parent"] == str(parent.id) and by_name["Refunds"]["id"] == str(child.id)
    assert by_name["Billing"]["organization"] == str(cast.org.id)
    assert api_as(cast.outsider).get("/v1/shared_labels").json() == {"shared_labels": []}
    assert api_as(cast.outsider).get("/v1/shared_labels", {"organization": str(cast.org.id)}).status_code == 404


def test_a_member_creates_labels(cast, api_as):
    body = {
        "shared_labels": [
            {"name": "VIP", "organization": str(cast.org.id), "color": "#112233"},
            {
                "name": "Escalated",
                "organization": str(cast.org.id),
                "visibility": "delegates",
                "share_with_users": [str(cast.observer.id)],
                "share_with_team": str(cast.support.id),
            },
        ]
    }
    response = api_as(cast.teammate).post("/v1/shared_labels", body)
    assert response.status_code == 201
    vip, escalated = response.json()["shared_labels"]
    assert vip["color"] == "#112233" and vip["visibility"] == "organization"
    assert escalated["visibility"] == "delegates"
    assert escalated["share_with_users"] == [str(cast.observer.id)]
    assert escalated["share_with_team"] == str(cast.support.id)
    assert Label.objects.get(id=escalated["id"]).visibility == LabelVisibility.RESTRICTED


def test_bad_labels_are_400s_naming_the_field_and_save_nothing(cast, api_as):
    api = api_as(cast.owner)
    org = str(cast.org.id)
    cases = [
        ({"name": "A", "organization": org, "color": "red"}, "shared_labels.1.color"),
        ({"name": "A/B", "organization": org}, "shared_labels.1.name"),
        ({"name": "A\x00B", "organization": org}, "shared_labels.1.name"),
        ({"organization": org}, "shared_labels.1.name"),
        ({"name": "A", "organization": org, "share_with_users": [str(cast.outsider.id)]},
         "shared_labels.1.share_with_users"),
        ({"name": "A", "organization": org, "visibility": "nobody"}, "shared_labels.1.visibility"),
    ]  # fmt: skip
    for item, field in cases:
        response = api.post("/v1/shared_labels", {"shared_labels": [{"name": "Fine", "organization": org}, item]})
        assert response.status_code == 400, item
        assert response.json()["field"] == field
    assert not Label.objects.filter(organization=cast.org).exists()
    assert (
        api.post(
            "/v1/shared_labels", {"shared_labels": [{"name": "X", "organization": str(cast.other_org.id)}]}
        ).status_code
        == 404
    )


def test_a_guest_cannot_create_organization_labels(cast, api_as):
    response = api_as(cast.guest).post(
        "/v1/shared_labels", {"shared_labels": [{"name": "X", "organization": str(cast.org.id)}]}
    )
    assert response.status_code == 403


def test_members_rename_and_only_admins_change_sharing(cast, api_as):
    label = do_create_label(cast.org, acting_user=cast.owner, name="Billing")
    member = api_as(cast.teammate)
    renamed = member.patch(
        f"/v1/shared_labels/{label.id}", {"shared_labels": [{"id": str(label.id), "name": "Invoices"}]}
    )
    assert renamed.status_code == 200 and renamed.json()["shared_labels"][0]["name"] == "Invoices"
    sharing = {"shared_labels": [{"id": str(label.id), "visibility": "delegates"}]}
    assert member.patch(f"/v1/shared_labels/{label.id}", sharing).status_code == 403
    assert (
        api_as(cast.owner).patch(f"/v1/shared_labels/{label.id}", sharing).json()["shared_labels"][0]["visibility"]
        == "delegates"
    )
    outsider = api_as(cast.outsider).patch(
        f"/v1/shared_labels/{label.id}", {"shared_labels": [{"id": str(label.id), "name": "X"}]}
    )
    assert outsider.status_code == 404
    label.refresh_from_db()
    assert label.name == "Invoices"
