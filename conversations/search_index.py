"""Keeping search documents up to date.

A change to what search reads (a new message or comment) queues its conversation in
SearchBacklog in the changing transaction; a worker task, kicked after commit and by beat every
minute, rebuilds the queued documents. Each document is rebuilt whole from the conversation's
rows by one SQL statement, so indexing is idempotent: running it twice, or after a crash, gives
the same document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from django.core.cache import cache
from django.db import connection, transaction

from conversations.models import SEARCH_CONFIG, SearchBacklog, SearchDocument

# A message body counts up to this many characters, a whole document up to CONTENT_LIMIT: a
# tsvector must stay under 1 MB, and what lies beyond is quoted history in practice.
BODY_LIMIT = 8_000
CONTENT_LIMIT = 200_000
BATCH = 200

# {where} selects the conversations to (re)build from conversations_conversation AS c. Only
# constants of this module are formatted in; values are always query parameters.
_BUILD_SQL = f"""
INSERT INTO conversations_searchdocument
    (conversation_id, organization_id, document, content, subject, senders, recipients, copied, filenames, indexed_at)
SELECT
    c.id,
    c.organization_id,
    setweight(to_tsvector('{SEARCH_CONFIG}', c.subject), 'A')
        || setweight(to_tsvector('{SEARCH_CONFIG}', concat_ws(' ', m.senders, r.recipients, r.copied)), 'B')
        || setweight(to_tsvector('{SEARCH_CONFIG}', coalesce(a.filenames, '')), 'C')
        || setweight(to_tsvector('{SEARCH_CONFIG}', left(concat_ws(E'\\n', m.bodies, k.bodies), {CONTENT_LIMIT})), 'D'),
    left(concat_ws(E'\\n', m.bodies, k.bodies), {CONTENT_LIMIT}),
    lower(unaccent(c.subject)),
    lower(unaccent(coalesce(m.senders, ''))),
    lower(unaccent(coalesce(r.recipients, ''))),
    lower(unaccent(coalesce(r.copied, ''))),
    lower(unaccent(coalesce(a.filenames, ''))),
    now()
FROM conversations_conversation AS c
LEFT JOIN LATERAL (
    SELECT
        string_agg(left(body_text, {BODY_LIMIT}), E'\\n' ORDER BY sent_at) AS bodies,
        string_agg(DISTINCT concat(from_name, ' <', from_address, '>'), ' ') AS senders
    FROM conversations_message WHERE conversation_id = c.id
) AS m ON true
LEFT JOIN LATERAL (
    SELECT
        string_agg(DISTINCT concat(e.person->>'name', ' <', e.person->>'address', '>'), ' ')
            FILTER (WHERE e.field = 'to') AS recipients,
        string_agg(DISTINCT concat(e.person->>'name', ' <', e.person->>'address', '>'), ' ')
            FILTER (WHERE e.field = 'cc') AS copied
    FROM conversations_message AS mm
    CROSS JOIN LATERAL (
        SELECT 'to' AS field, value AS person FROM jsonb_array_elements(mm."to")
        UNION ALL
        SELECT 'cc', value FROM jsonb_array_elements(mm.cc)
    ) AS e
    WHERE mm.conversation_id = c.id
) AS r ON true
LEFT JOIN LATERAL (
    SELECT string_agg(body, E'\\n' ORDER BY created_at) AS bodies
    FROM conversations_comment WHERE conversation_id = c.id
) AS k ON true
LEFT JOIN LATERAL (
    SELECT string_agg(DISTINCT f.filename, ' ') AS filenames
    FROM (
        SELECT at.filename
        FROM conversations_attachment AS at
        JOIN conversations_message AS am ON am.id = at.message_id
        WHERE am.conversation_id = c.id AND NOT at.is_inline
        UNION ALL
        SELECT cf.filename
        FROM conversations_commentattachment AS cf
        JOIN conversations_comment AS cc ON cc.id = cf.comment_id
        WHERE cc.conversation_id = c.id
    ) AS f
) AS a ON true
WHERE {{where}}
ON CONFLICT (conversation_id) DO UPDATE SET
    document = EXCLUDED.document,
    content = EXCLUDED.content,
    subject = EXCLUDED.subject,
    senders = EXCLUDED.senders,
    recipients = EXCLUDED.recipients,
    copied = EXCLUDED.copied,
    filenames = EXCLUDED.filenames,
    indexed_at = EXCLUDED.indexed_at
"""  # noqa: S608


# The same weights as the document, per message and comment of one conversation.
_MATCHING_SQL = f"""
SELECT id FROM conversations_message WHERE conversation_id = %(c)s
  AND (setweight(to_tsvector('{SEARCH_CONFIG}', subject), 'A')
       || setweight(to_tsvector('{SEARCH_CONFIG}', concat_ws(' ', from_name, from_address)), 'B')
       || setweight(to_tsvector('{SEARCH_CONFIG}', left(body_text, {BODY_LIMIT})), 'D'))
      @@ to_tsquery('{SEARCH_CONFIG}', %(q)s)
UNION ALL
SELECT id FROM conversations_comment AS k WHERE conversation_id = %(c)s
  AND (setweight(to_tsvector('{SEARCH_CONFIG}', body), 'D')
       || setweight(to_tsvector('{SEARCH_CONFIG}', coalesce(
            (SELECT string_agg(filename, ' ') FROM conversations_commentattachment WHERE comment_id = k.id), '')), 'C'))
      @@ to_tsquery('{SEARCH_CONFIG}', %(q)s)
"""  # noqa: S608


def matching_items(conversation_id: UUID, tsquery: str) -> set[UUID]:
    """Ids of the messages and comments of one conversation that a to_tsquery text matches."""
    with connection.cursor() as cursor:
        cursor.execute(_MATCHING_SQL, {"c": conversation_id, "q": tsquery})
        return {row[0] for row in cursor.fetchall()}


def index_conversations(conversation_ids: Sequence[UUID]) -> int:
    """Rebuild the search documents of these conversations now."""
    if not conversation_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_BUILD_SQL.format(where="c.id = ANY(%s)"), [list(conversation_ids)])
        return int(cursor.rowcount)


def rebuild(organization_ids: Sequence[UUID]) -> int:
    """Rebuild every document of these organizations, set-based (the dataset generator, repairs)."""
    with connection.cursor() as cursor:
        cursor.execute(_BUILD_SQL.format(where="c.organization_id = ANY(%s)"), [list(organization_ids)])
        built = int(cursor.rowcount)
        cursor.execute(f"ANALYZE {SearchDocument._meta.db_table}")  # noqa: S608 - the model's own table
    SearchBacklog.objects.filter(organization_id__in=organization_ids).delete()
    return built


def queue(organization_id: UUID, conversation_ids: Iterable[UUID]) -> None:
    """Mark conversations for reindexing, in the caller's transaction; kick the worker after commit."""
    rows = [SearchBacklog(organization_id=organization_id, conversation_id=cid) for cid in set(conversation_ids)]
    if not rows:
        return
    SearchBacklog.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(_kick)


# Up while a kicked indexing task is queued and has not started. A kick that finds it up sends
# nothing: that task takes the mark down before it reads the backlog, so it will see the rows
# committed before the kick. Under a stream of deliveries, most kicks cost one SET instead of a
# task each. A task lost with the broker holds kicks back this long at most (beat sweeps anyway).
KICK_MARK = "search:kick-queued"
KICK_MARK_SECONDS = 60


def _kick() -> None:
    from conversations.tasks import index_search_backlog

    if not cache.add(KICK_MARK, 1, KICK_MARK_SECONDS):
        return
    try:
        index_search_backlog.delay()
    except Exception:
        cache.delete(KICK_MARK)  # not queued: the next change kicks again
        raise


def take_kick_mark() -> None:
    """The indexing task starts: changes committed from now on kick a task of their own."""
    cache.delete(KICK_MARK)


def index_backlog(batch: int = BATCH, max_batches: int | None = None) -> int:
    """Index queued conversations, a batch per transaction, until none is left; returns how many.

    Rows are claimed with SKIP LOCKED, so several workers share the backlog. A conversation
    queued again while its batch runs waits for the batch's commit and stays queued for the next."""
    done = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            ids = list(
                SearchBacklog.objects.select_for_update(skip_locked=True)
                .order_by("queued_at")
                .values_list("conversation_id", flat=True)[:batch]
            )
            if not ids:
                break
            index_conversations(ids)
            SearchBacklog.objects.filter(conversation_id__in=ids).delete()
        done += len(ids)
        batches += 1
    return done
