"""Twilio SMS and WhatsApp by Twilio: connecting a number, inbound webhooks, status callbacks and
sending through Twilio's REST API."""
