"""`newsdelta web`: a read-only web view of the database (app.py), server-rendered HTML from
templates/ with one stylesheet from static/, and the same data as JSON under /api/."""
