"""Template helpers of the chat box's files."""

from django import template

from conversations import comment_files

register = template.Library()


@register.simple_tag
def comment_files_max_bytes() -> int:
    """The most one comment's files may weigh together: the chat box checks before uploading."""
    return comment_files.max_bytes()
