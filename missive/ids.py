import uuid


def is_uuid(value: str) -> bool:
    """Whether a string from a form or a command line is a UUID (our ids), before looking it up."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
