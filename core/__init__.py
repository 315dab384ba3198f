"""The words every layer shares: time, the working-day calendar, Chinese dates, statuses, roles and channels.

This package imports nothing of the project, so that storage, the commands, the scheduler and the channels can all
depend on it without depending on each other (tests/test_architecture.py keeps it so).
"""
