"""The email transport: IMAP in, SMTP out, and the MIME parsing between the wire and conversations."""
