"""Alert delivery: e-mail (SMTP) and signed webhooks (SMS/push gateways), from the outbox."""
