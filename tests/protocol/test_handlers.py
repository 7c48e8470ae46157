"""Each message handler, driven without sockets and with a clock the test moves."""

from __future__ import annotations

from ipaddress import IPv4Address

from dhcpd.leases import LeaseState
from dhcpd.protocol import DropReason
from dhcpd.wire import (
    DOMAIN_NAME_SERVER,
    LEASE_TIME,
    MESSAGE,
    REBINDING_TIME,
    RELAY_AGENT_INFO,
    RENEWAL_TIME,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
    MessageType,
    OptionCode,
)
from tests.factories import SERVER_ADDRESS, Harness, request

BROADCAST = IPv4Address("255.255.255.255")
RELAY = IPv4Address("198.51.100.1")


async def test_discover_gets_an_offer_with_requested_options_in_client_order() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.DISCOVER, prl=(6, 3, 1)))
    reply = outcome.reply
    assert reply is not None
    message = reply.message
    assert message.message_type is MessageType.OFFER
    assert message.yiaddr in h.config.subnets[0].pools[0]
    assert message.options.get(SERVER_ID) == SERVER_ADDRESS
    assert message.options.get(ROUTER) == (IPv4Address("192.0.2.1"),)
    assert message.options.get(DOMAIN_NAME_SERVER) == (IPv4Address("192.0.2.53"),)
    assert message.options.get(LEASE_TIME) == 3600
    codes = list(message.options)
    assert codes[:2] == [53, 54]
    assert codes.index(6) < codes.index(3) < codes.index(1)
    # An offer is not a lease: nothing was written.
    assert h.store.records == {}  # type: ignore[attr-defined]


async def test_offer_is_unicast_to_yiaddr_at_chaddr_without_broadcast_flag() -> None:
    h = Harness()
    reply = (await h.send(request(MessageType.DISCOVER))).reply
    assert reply is not None
    assert reply.destination.address == reply.message.yiaddr
    assert reply.destination.port == 68
    assert reply.destination.hw_address is not None
    assert reply.destination.hw_address.address == bytes.fromhex("020000000001")


async def test_offer_is_broadcast_when_client_sets_broadcast_flag() -> None:
    h = Harness()
    reply = (await h.send(request(MessageType.DISCOVER, broadcast=True))).reply
    assert reply is not None
    assert reply.destination.address == BROADCAST
    assert reply.destination.hw_address is None


async def test_request_for_our_offer_commits_and_acks_with_timers() -> None:
    h = Harness()
    address = await h.dora()
    lease = h.leases.lease_at(address)
    assert lease is not None and lease.state is LeaseState.ACTIVE
    assert h.store.records[address] == lease  # type: ignore[attr-defined]
    ack = await h.send(request(MessageType.REQUEST, requested=address, server_id=SERVER_ADDRESS))
    assert ack.reply.message.options.get(RENEWAL_TIME) == 1800
    assert ack.reply.message.options.get(REBINDING_TIME) == 3150


async def test_request_for_foreign_server_id_is_ignored_and_offer_forgotten() -> None:
    h = Harness()
    offer = (await h.send(request(MessageType.DISCOVER))).reply
    assert offer is not None
    address = offer.message.yiaddr
    outcome = await h.send(request(
        MessageType.REQUEST, requested=address, server_id=IPv4Address("192.0.2.254")
    ))
    assert outcome.reply is None
    assert outcome.drop is DropReason.WRONG_SERVER
    assert h.leases.lease_at(address) is None
    # The hold is gone: another client asking for that address gets it.
    other = (await h.send(request(MessageType.DISCOVER, 2, requested=address))).reply
    assert other is not None and other.message.yiaddr == address


async def test_same_client_gets_same_address_again() -> None:
    h = Harness()
    first = await h.dora(1)
    second = await h.dora(2)
    assert first != second
    assert await h.dora(1) == first


async def test_discover_honours_requested_address_when_free() -> None:
    h = Harness()
    wanted = IPv4Address("192.0.2.105")
    reply = (await h.send(request(MessageType.DISCOVER, requested=wanted))).reply
    assert reply is not None and reply.message.yiaddr == wanted


async def test_requested_address_outside_pool_is_not_offered() -> None:
    h = Harness()
    reply = (await h.send(request(
        MessageType.DISCOVER, requested=IPv4Address("192.0.2.50")
    ))).reply
    assert reply is not None and reply.message.yiaddr != IPv4Address("192.0.2.50")


async def test_reserved_client_gets_its_reservation_and_hostname() -> None:
    h = Harness()
    reply = (await h.send(request(MessageType.DISCOVER, 0x10, prl=(1, 3, 12)))).reply
    assert reply is not None
    assert reply.message.yiaddr == IPv4Address("192.0.2.10")
    assert reply.message.options.get_raw(12) == b"printer"


async def test_exhausted_pool_is_a_counted_drop_not_an_error() -> None:
    h = Harness()
    for n in range(1, 13):  # both pools: 10 + 2 addresses
        await h.dora(n)
    outcome = await h.send(request(MessageType.DISCOVER, 99))
    assert outcome.reply is None
    assert outcome.drop is DropReason.NOADDRESS


async def test_init_reboot_on_wrong_network_is_nacked_when_authoritative() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.REQUEST, requested=IPv4Address("203.0.113.9")))
    reply = outcome.reply
    assert reply is not None
    assert reply.message.message_type is MessageType.NAK
    assert reply.destination.address == BROADCAST
    assert reply.message.yiaddr == IPv4Address(0)
    assert reply.message.options.get(MESSAGE)


async def test_init_reboot_with_unknown_binding_is_silent_when_not_authoritative() -> None:
    from tests.factories import BASE_CONFIG

    h = Harness(BASE_CONFIG.replace("authoritative: true", "authoritative: false"))
    outcome = await h.send(request(MessageType.REQUEST, requested=IPv4Address("192.0.2.101")))
    assert outcome.reply is None
    assert outcome.drop is DropReason.UNAUTH


async def test_init_reboot_with_known_binding_is_acked() -> None:
    h = Harness()
    address = await h.dora()
    outcome = await h.send(request(MessageType.REQUEST, requested=address))
    assert outcome.reply is not None
    assert outcome.reply.message.message_type is MessageType.ACK
    assert outcome.reply.message.yiaddr == address


async def test_renewing_extends_the_lease_and_replies_to_ciaddr() -> None:
    h = Harness()
    address = await h.dora()
    before = h.leases.lease_at(address)
    h.now += 1800
    outcome = await h.send(request(MessageType.REQUEST, ciaddr=address), unicast=True,
                           source=str(address))
    reply = outcome.reply
    assert reply is not None and reply.message.message_type is MessageType.ACK
    assert reply.destination.address == address
    assert reply.message.ciaddr == address
    after = h.leases.lease_at(address)
    assert before is not None and after is not None
    assert after.expires == before.expires + 1800
    assert after.starts == before.starts


async def test_renewing_an_address_of_another_client_is_nacked() -> None:
    h = Harness()
    address = await h.dora(1)
    outcome = await h.send(request(MessageType.REQUEST, 2, ciaddr=address), unicast=True)
    assert outcome.reply is not None
    assert outcome.reply.message.message_type is MessageType.NAK


async def test_decline_puts_address_on_probation_then_back() -> None:
    h = Harness()
    address = await h.dora(1)
    outcome = await h.send(request(
        MessageType.DECLINE, requested=address, server_id=SERVER_ADDRESS
    ))
    assert outcome.reply is None
    lease = h.leases.lease_at(address)
    assert lease is not None and lease.state is LeaseState.DECLINED
    # The decliner does not get it again, nor does anyone during probation.
    assert await h.dora(1) != address
    h.now += 601
    await h.leases.reclaim(h.now)
    assert h.leases.lease_at(address) is None


async def test_release_frees_the_address_and_keeps_affinity() -> None:
    h = Harness()
    address = await h.dora(1)
    outcome = await h.send(request(MessageType.RELEASE, ciaddr=address, server_id=SERVER_ADDRESS))
    assert outcome.reply is None
    lease = h.leases.lease_at(address)
    assert lease is not None and lease.state is LeaseState.RELEASED
    assert await h.dora(1) == address


async def test_release_by_another_client_changes_nothing() -> None:
    h = Harness()
    address = await h.dora(1)
    await h.send(request(MessageType.RELEASE, 2, ciaddr=address, server_id=SERVER_ADDRESS))
    lease = h.leases.lease_at(address)
    assert lease is not None and lease.state is LeaseState.ACTIVE


async def test_inform_gets_options_but_no_lease() -> None:
    h = Harness()
    client = IPv4Address("192.0.2.77")
    outcome = await h.send(request(MessageType.INFORM, ciaddr=client), unicast=True)
    reply = outcome.reply
    assert reply is not None and reply.message.message_type is MessageType.ACK
    assert reply.message.yiaddr == IPv4Address(0)
    assert LEASE_TIME.code not in reply.message.options
    assert reply.message.options.get(ROUTER) == (IPv4Address("192.0.2.1"),)
    assert reply.destination.address == client
    assert h.leases.leases() == []


async def test_relayed_discover_uses_giaddr_subnet_and_replies_to_relay_port_67() -> None:
    h = Harness()
    agent_info = b"\x01\x04port\x02\x03abc"
    outcome = await h.send(request(
        MessageType.DISCOVER, giaddr=RELAY,
        extra=((int(OptionCode.RELAY_AGENT_INFO), agent_info),),
    ))
    reply = outcome.reply
    assert reply is not None
    assert reply.message.yiaddr in h.config.subnets[1].network
    assert reply.destination.address == RELAY
    assert reply.destination.port == 67
    assert reply.message.giaddr == RELAY
    assert reply.message.options.get_raw(82) == agent_info
    assert list(reply.message.options)[-1] == 82
    assert reply.message.options.get(SUBNET_MASK) == IPv4Address("255.255.255.0")


async def test_link_selection_suboption_beats_giaddr() -> None:
    h = Harness()
    link = b"\x05\x04" + IPv4Address("192.0.2.0").packed
    outcome = await h.send(request(
        MessageType.DISCOVER, giaddr=RELAY, extra=((82, link),),
    ))
    assert outcome.reply is not None
    assert outcome.reply.message.yiaddr in h.config.subnets[0].network
    decoded = outcome.reply.message.options.get(RELAY_AGENT_INFO)
    assert decoded is not None and decoded.link_selection == IPv4Address("192.0.2.0")


async def test_subnet_selection_option_picks_the_subnet() -> None:
    h = Harness()
    outcome = await h.send(request(
        MessageType.DISCOVER, extra=((118, IPv4Address("198.51.100.0").packed),),
    ))
    assert outcome.reply is not None
    assert outcome.reply.message.yiaddr in h.config.subnets[1].network


async def test_relayed_nak_goes_to_relay_with_broadcast_bit() -> None:
    h = Harness()
    outcome = await h.send(request(
        MessageType.REQUEST, giaddr=RELAY, requested=IPv4Address("192.0.2.101")
    ))
    reply = outcome.reply
    assert reply is not None and reply.message.message_type is MessageType.NAK
    assert reply.destination.address == RELAY
    assert reply.message.flags & 0x8000


async def test_unknown_link_is_dropped_with_no_subnets() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.DISCOVER),
                           local=IPv4Address("203.0.113.1"))
    assert outcome.reply is None
    assert outcome.drop is DropReason.NO_SUBNETS


async def test_bootp_client_gets_infinite_lease_from_bootp_pool() -> None:
    h = Harness()
    outcome = await h.send(request(None, prl=()))
    reply = outcome.reply
    assert reply is not None
    assert reply.message.message_type is None
    assert reply.message.yiaddr in h.config.subnets[0].pools[1]
    lease = h.leases.lease_at(reply.message.yiaddr)
    assert lease is not None and lease.expires - h.now >= 0xFFFFFFFF
    # Everything configured is sent, since BOOTP has no request list.
    assert reply.message.options.get(ROUTER) == (IPv4Address("192.0.2.1"),)


async def test_rapid_commit_acks_a_discover_when_enabled() -> None:
    from tests.factories import BASE_CONFIG

    h = Harness(BASE_CONFIG.replace("authoritative: true", "rapid_commit: true"))
    outcome = await h.send(request(MessageType.DISCOVER, extra=((80, b""),)))
    reply = outcome.reply
    assert reply is not None and reply.message.message_type is MessageType.ACK
    assert 80 in reply.message.options
    assert h.leases.lease_at(reply.message.yiaddr) is not None


async def test_rapid_commit_is_ignored_when_not_enabled() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.DISCOVER, extra=((80, b""),)))
    assert outcome.reply is not None
    assert outcome.reply.message.message_type is MessageType.OFFER


async def test_client_lease_time_request_is_clamped_to_subnet_bounds() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.DISCOVER, extra=((51, (10**6).to_bytes(4)),)))
    assert outcome.reply is not None
    assert outcome.reply.message.options.get(LEASE_TIME) == 3600


async def test_client_identifier_identifies_the_client_across_mac_change() -> None:
    h = Harness()
    first = await h.dora(1, client_id=b"\xffmy-client")
    assert await h.dora(7, client_id=b"\xffmy-client") == first


async def test_offered_address_is_held_then_released_after_hold_time() -> None:
    h = Harness()
    offer = (await h.send(request(MessageType.DISCOVER, 1))).reply
    assert offer is not None
    held = offer.message.yiaddr
    other = (await h.send(request(MessageType.DISCOVER, 2))).reply
    assert other is not None and other.message.yiaddr != held
    h.now += 31
    await h.leases.reclaim(h.now)
    # Fill the never-used addresses; the expired offer's address comes back.
    got = {await h.dora(n) for n in range(3, 13)}
    assert held in got


async def test_relayed_client_renewing_by_unicast_is_acked_by_its_ciaddr_subnet() -> None:
    h = Harness()
    leased = (await h.send(request(MessageType.DISCOVER, 3, giaddr=RELAY))).reply
    assert leased is not None
    address = leased.message.yiaddr
    ack = await h.send(request(
        MessageType.REQUEST, 3, giaddr=RELAY, requested=address, server_id=SERVER_ADDRESS
    ))
    assert ack.reply is not None and ack.reply.message.message_type is MessageType.ACK
    # The renewal comes straight to our interface address (in the other subnet).
    renew = await h.send(request(MessageType.REQUEST, 3, ciaddr=address), unicast=True,
                         source=str(address))
    assert renew.reply is not None
    assert renew.reply.message.message_type is MessageType.ACK
    assert renew.reply.destination.address == address


async def test_renewing_an_address_of_a_network_we_do_not_serve_is_ignored() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.REQUEST, ciaddr=IPv4Address("203.0.113.7")),
                           unicast=True)
    assert outcome.reply is None
    assert outcome.drop is DropReason.NO_SUBNETS


async def test_inform_from_a_reserved_client_gets_its_reservation_options() -> None:
    h = Harness()
    outcome = await h.send(request(MessageType.INFORM, 0x10, ciaddr=IPv4Address("192.0.2.10"),
                                   prl=(3, 12)), unicast=True)
    assert outcome.reply is not None
    assert outcome.reply.message.options.get_raw(12) == b"printer"


async def test_always_send_option_is_sent_unrequested() -> None:
    from tests.factories import BASE_CONFIG

    text = BASE_CONFIG.replace(
        "options:\n  domain_name_servers: [192.0.2.53]",
        "options:\n  domain_name_servers: [192.0.2.53]\n"
        "  custom: [{code: 252, text: 'http://wpad.test/wpad.dat', always_send: true}]",
    )
    h = Harness(text)
    outcome = await h.send(request(MessageType.DISCOVER, prl=(1, 3)))
    assert outcome.reply is not None
    assert outcome.reply.message.options.get_raw(252) == b"http://wpad.test/wpad.dat"
    assert DOMAIN_NAME_SERVER.code not in outcome.reply.message.options
