from django import template

from conversations.models import Conversation
from conversations.rooms import RoomInfo
from conversations.rooms import room_info as load_room_info
from inboxes.models import User

register = template.Library()


@register.simple_tag
def room_info(conversation: Conversation, viewer: User) -> RoomInfo:
    """How a room presents itself to the viewer: `{% room_info conversation request.user as room %}`."""
    return load_room_info(conversation, viewer)
