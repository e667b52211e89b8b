"""The storage seam: every S3 read, conditional update and queue message of the project goes through here."""
