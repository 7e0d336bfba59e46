"""Zoom WebSocket event subscriptions: a second ingest transport beside webhooks.

`zoomhooks listen` holds each configured subscription's socket (one listener cluster-wide, by
a lease in the database), stores every event in the inbox exactly as a webhook would be stored,
and reconciles the windows it was disconnected, since Zoom replays nothing.
"""
