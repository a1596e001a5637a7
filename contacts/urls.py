from django.urls import path

from contacts import views

books = "settings/orgs/<uuid:org_id>/contacts/"
book = books + "<uuid:book_id>/"
contact = books + "c/<uuid:contact_id>/"

urlpatterns = [
    path(books, views.contact_books, name="contacts_books"),
    path(books + "create/", views.create_contact_book, name="contacts_book_create"),
    path(book, views.contact_book, name="contacts_book"),
    path(book + "new/", views.new_contact, name="contacts_new"),
    path(book + "create/", views.create_contact, name="contacts_create"),
    path(contact, views.contact_settings, name="contacts_contact"),
    path(contact + "save/", views.update_contact, name="contacts_update"),
    path(contact + "delete/", views.delete_contact, name="contacts_delete"),
]
