"""Inbox: contacts, conversations, messages and attendance."""
