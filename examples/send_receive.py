#!/usr/bin/env python3
"""A minimal Python program on liaison's C API through ctypes (standard library only).

    send_receive.py create STATE_DIR ADDRESS RELAY_ENDPOINT RELAY_KEY   prints the device card
    send_receive.py send STATE_DIR RECIPIENT TEXT
    send_receive.py receive STATE_DIR MILLISECONDS     listens; prints "SENDER: TEXT" per message

The library is $LIAISON_LIBRARY if set, else libliaison.so.0 from the dynamic loader's path.
The structs below mirror liaison.h field for field (only those this program uses); the library
allocates every result and the matching liaison_*_free releases it. docs/integrating.md walks
through this file.
"""
import ctypes
import ctypes.util
import os
import sys

LIAISON_OK = 0


class ClientOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("state_dir", ctypes.c_char_p),
                ("relay_endpoint", ctypes.c_char_p), ("relay_public_key", ctypes.c_char_p),
                ("coordinator_key", ctypes.c_char_p), ("timeout_ms", ctypes.c_int64)]


class DeviceCard(ctypes.Structure):
    _fields_ = [("address", ctypes.c_char_p), ("transport_key", ctypes.c_char_p),
                ("signing_key", ctypes.c_char_p), ("dh_key", ctypes.c_char_p), ("toml", ctypes.c_char_p)]


class SendReceipt(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("stored", ctypes.c_int)]


class SyncReport(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("sent", "failed", "still_queued", "received", "duplicates", "rejected", "roster_alarms")] + \
               [("roster_epoch", ctypes.c_uint64)] + \
               [(name, ctypes.c_size_t) for name in ("deferred", "receipts", "escalations", "error_count")] + \
               [("errors", ctypes.POINTER(ctypes.c_char_p))]


class Message(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("kind", ctypes.c_char_p), ("sender", ctypes.c_char_p),
                ("sender_name", ctypes.c_char_p), ("stored_at", ctypes.c_int64), ("received_at", ctypes.c_int64),
                ("text", ctypes.c_void_p), ("text_size", ctypes.c_size_t), ("severity", ctypes.c_int),
                ("category", ctypes.c_int), ("title", ctypes.c_char_p), ("place", ctypes.c_char_p),
                ("when", ctypes.c_char_p), ("ack_required", ctypes.c_int), ("expires_at", ctypes.c_int64),
                ("read_at", ctypes.c_int64), ("acknowledged_at", ctypes.c_int64), ("answer", ctypes.c_char_p)]

    def text_str(self):
        return ctypes.string_at(self.text, self.text_size).decode("utf-8", "replace")


# void (*liaison_message_callback)(void* user_data, const liaison_message* message)
MessageCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Message))


def load_library():
    name = os.environ.get("LIAISON_LIBRARY") or ctypes.util.find_library("liaison") or "libliaison.so.0"
    lib = ctypes.CDLL(name)
    signatures = {
        "liaison_version": (ctypes.c_char_p, []),
        "liaison_code_name": (ctypes.c_char_p, [ctypes.c_int]),
        "liaison_last_error": (ctypes.c_char_p, []),
        "liaison_client_create": (ctypes.c_int, [ctypes.POINTER(ClientOptions), ctypes.c_char_p,
                                                 ctypes.POINTER(ctypes.c_void_p)]),
        "liaison_client_open": (ctypes.c_int, [ctypes.POINTER(ClientOptions), ctypes.POINTER(ctypes.c_void_p)]),
        "liaison_client_free": (None, [ctypes.c_void_p]),
        "liaison_client_card": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(DeviceCard))]),
        "liaison_device_card_free": (None, [ctypes.POINTER(DeviceCard)]),
        "liaison_client_send": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64,
                                               ctypes.POINTER(ctypes.POINTER(SendReceipt))]),
        "liaison_send_receipt_free": (None, [ctypes.POINTER(SendReceipt)]),
        "liaison_client_listen": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64, MessageCallback, ctypes.c_void_p,
                                                 ctypes.POINTER(ctypes.POINTER(SyncReport))]),
        "liaison_sync_report_free": (None, [ctypes.POINTER(SyncReport)]),
    }
    for function, (restype, argtypes) in signatures.items():
        getattr(lib, function).restype = restype
        getattr(lib, function).argtypes = argtypes
    return lib


class LiaisonError(Exception):
    pass


def check(lib, code, what):
    """Raises with the code's name and this thread's last error unless code is LIAISON_OK."""
    if code != LIAISON_OK:
        raise LiaisonError("%s: %s: %s" % (what, lib.liaison_code_name(code).decode(), lib.liaison_last_error().decode()))


def options_for(state_dir, endpoint=None, relay_key=None):
    options = ClientOptions()  # zeroed: NULL strings, timeout 0 = the default
    options.struct_size = ctypes.sizeof(ClientOptions)
    options.state_dir = state_dir.encode()
    options.relay_endpoint = endpoint.encode() if endpoint else None
    options.relay_public_key = relay_key.encode() if relay_key else None
    return options


def create(lib, state_dir, address, endpoint, relay_key):
    client = ctypes.c_void_p()
    check(lib, lib.liaison_client_create(ctypes.byref(options_for(state_dir, endpoint, relay_key)), address.encode(),
                                         ctypes.byref(client)), "create")
    try:
        card = ctypes.POINTER(DeviceCard)()
        check(lib, lib.liaison_client_card(client, ctypes.byref(card)), "card")
        sys.stdout.write(card.contents.toml.decode())
        lib.liaison_device_card_free(card)
    finally:
        lib.liaison_client_free(client)


def send(lib, client, recipient, text):
    receipt = ctypes.POINTER(SendReceipt)()
    check(lib, lib.liaison_client_send(client, recipient.encode(), text.encode(), 0, ctypes.byref(receipt)), "send")
    print(receipt.contents.id.decode(), "stored" if receipt.contents.stored else "queued")
    lib.liaison_send_receipt_free(receipt)


def receive(lib, client, milliseconds):
    received = []

    def on_message(_user_data, message):  # runs on this thread, inside liaison_client_listen
        m = message.contents
        received.append(m.id.decode())
        print("%s: %s" % (m.sender.decode(), m.text_str()), flush=True)

    callback = MessageCallback(on_message)  # keep a reference for as long as the library may call it
    report = ctypes.POINTER(SyncReport)()
    check(lib, lib.liaison_client_listen(client, milliseconds, callback, None, ctypes.byref(report)), "listen")
    sys.stderr.write("%d new message(s), %d rejected\n" % (len(received), report.contents.rejected))
    lib.liaison_sync_report_free(report)


def main(argv):
    lib = load_library()
    sys.stderr.write("liaison %s\n" % lib.liaison_version().decode())
    try:
        if len(argv) == 6 and argv[1] == "create":
            create(lib, *argv[2:])
            return 0
        if not ((len(argv) == 5 and argv[1] == "send") or (len(argv) == 4 and argv[1] == "receive")):
            sys.stderr.write("usage: %s create STATE_DIR ADDRESS RELAY_ENDPOINT RELAY_KEY | "
                             "send STATE_DIR RECIPIENT TEXT | receive STATE_DIR MILLISECONDS\n" % argv[0])
            return 2
        client = ctypes.c_void_p()
        check(lib, lib.liaison_client_open(ctypes.byref(options_for(argv[2])), ctypes.byref(client)), "open")
        try:
            if argv[1] == "send":
                send(lib, client, argv[3], argv[4])
            else:
                receive(lib, client, int(argv[3]))
        finally:
            lib.liaison_client_free(client)
        return 0
    except LiaisonError as e:
        sys.stderr.write("%s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
