"""A member's first minutes through the client openapi-python-client generated from
`haven openapi`: sign up, log a mood, book a session with a practitioner, read it back, refresh
the tokens and carry on with the new pair. Run by scripts/generators against a live Haven."""

import sys
import uuid

from haven_client import AuthenticatedClient, Client
from haven_client.api.appointments import (
    book_session,
    get_session,
    list_practitioner_slots,
    list_practitioners,
)
from haven_client.api.auth import get_auth_me, refresh_tokens, signup
from haven_client.api.wellbeing import create_mood_entry, list_mood_entries
from haven_client.models import NewMoodEntry, NewSession, RefreshBody, SignupBody


def ok(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    return response.parsed


base = sys.argv[1]
email = f"py-{uuid.uuid4().hex[:12]}@example.org"
auth = ok(
    signup.sync_detailed(
        client=Client(base_url=base),
        body=SignupBody(email=email, password="Correct-horse-9", first_name="Py", last_name="Thon"),
    ),
    201,
).data
me = AuthenticatedClient(base_url=base, token=auth.access_token)

entry = ok(create_mood_entry.sync_detailed(client=me, body=NewMoodEntry(mood=4, note="from python")), 201).data
assert entry.mood == 4
entries = ok(list_mood_entries.sync_detailed(client=me), 200).data
assert any(e.id == entry.id for e in entries)

coach = next(p for p in ok(list_practitioners.sync_detailed(client=me), 200).data if p.name == sys.argv[2])
slot = ok(list_practitioner_slots.sync_detailed(coach.id, client=me), 200).data[0]
booked = ok(
    book_session.sync_detailed(
        client=me, body=NewSession(practitioner_id=coach.id, starts_at=slot.start, duration=50)
    ),
    201,
).data
again = ok(get_session.sync_detailed(booked.id, client=me), 200).data
assert again.id == booked.id and again.practitioner_id == coach.id, again

pair = ok(refresh_tokens.sync_detailed(client=Client(base_url=base), body=RefreshBody(refresh_token=auth.refresh_token)), 200).data
assert pair.refresh_token != auth.refresh_token
renewed = AuthenticatedClient(base_url=base, token=pair.access_token)
assert ok(get_auth_me.sync_detailed(client=renewed), 200).data.email == email
# The spent refresh token is refused.
assert refresh_tokens.sync_detailed(client=Client(base_url=base), body=RefreshBody(refresh_token=auth.refresh_token)).status_code == 401
print("python flow: signed up, logged a mood, booked and read a session, refreshed")
