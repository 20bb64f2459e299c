"""Behaviour analytics of users: retention cohorts and funnels, over their events."""
