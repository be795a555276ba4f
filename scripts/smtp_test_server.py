"""The test suite's SMTP server: aiosmtpd keeping every message in a Maildir,
and answering some recipients as real servers do, so that tests can see how
Shiplog handles refusals:

    bounce-*@...    550 on RCPT: the address does not exist (a hard bounce)
    tempfail-*@...  451 on RCPT: try again later

Run: PYTHONPATH=scripts python -m aiosmtpd -n -l 127.0.0.1:PORT \
         -c smtp_test_server.Handler MAILDIR
"""

from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("bounce-"):
            return "550 5.1.1 <%s>: no such user here" % address
        if local.startswith("tempfail-"):
            return "451 4.3.0 <%s>: mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
