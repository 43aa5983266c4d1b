"""Authentication, authorisation and abuse controls around the HTTP APIs."""
