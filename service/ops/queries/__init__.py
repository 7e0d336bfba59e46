"""The SQL behind the ops commands, in SQLAlchemy Core, for SQLite and PostgreSQL alike.

Where the dialects differ (reading JSON out of a body), the expression is branched by name.
"""
