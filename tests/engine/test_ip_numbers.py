"""``|cidr`` reads an address with the C parser (``inet_pton``) and answers exactly as
:mod:`ipaddress` does: the same addresses valid, the same ones inside each network.

Edge cases first (leading zeros, blanks, brackets, scoped IPv6, IPv4-mapped IPv6, NUL
bytes, non-ASCII digits), then random texts over the characters addresses use."""

from __future__ import annotations

import ipaddress
import random

import pytest

from keibi.engine.values import CidrTest, _ip, ip_number

EDGES = [
    "1.2.3.4",            # (4, 0x01020304)
    " 1.2.3.4 ",          # blanks around: stripped, as ipaddress after strip()
    "[::1]",              # brackets: stripped
    "] 6eB::Ab",          # a blank left inside after the brackets go: not an address
    "01.2.3.4",           # a leading zero: refused by both
    "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/24", "", " ", "::", "1::2::3",
    "1.2.3.4\x00",        # NUL: not an address
    "１.２.３.４",          # full-width digits: not an address
    "١.٢.٣.٤",            # Arabic-Indic digits: not an address
    "fe80::1%eth0",       # scoped IPv6: only ipaddress reads it
    "::ffff:1.2.3.4", "::ffff:01.2.3.4", "2001:DB8::1", "1:2:3:4:5:6:7:8:9", "0x1.2.3.4",
]


def _reference(text: str) -> tuple[int, int] | None:
    ip = _ip(text)
    return None if ip is None else (ip.version, int(ip))


def test_addresses_read_as_ipaddress_reads_them() -> None:
    rng = random.Random(3)
    alphabet = "0123456789.:abcdefABCDEF%[] x-"
    texts = EDGES + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
                     for _ in range(20_000)]
    texts += [".".join(str(rng.randint(0, 300)) for _ in range(4)) for _ in range(5_000)]
    valid = 0
    for text in texts:
        assert ip_number(text) == _reference(text), repr(text)
        valid += ip_number(text) is not None
    assert ip_number("fe80::1%eth0") == (6, int(ipaddress.ip_address("fe80::1")))
    assert ip_number("] 6eB::Ab") is None and ip_number("01.2.3.4") is None
    assert valid > 2_000


@pytest.mark.parametrize("version", [4, 6])
def test_cidr_membership_is_the_networks(version: int) -> None:
    rng = random.Random(version)
    bits = 32 if version == 4 else 128
    make = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    nets = tuple(make((rng.getrandbits(bits), rng.randint(0, bits)), strict=False)
                 for _ in range(6))
    check = CidrTest(nets).checker()
    inside = 0
    for _ in range(3_000):
        net = rng.choice(nets)
        # an address in one network, or near one, or anywhere
        number = int(net.network_address) + rng.randint(0, net.num_addresses - 1) \
            if rng.random() < 0.5 else rng.getrandbits(bits)
        address = ipaddress.ip_address(number)
        want = any(address in n for n in nets)
        assert check(str(address)) is want, (address, nets)
        assert check(f"[{address}]") is want
        inside += want
    # an address of the other version is in none of them, nor is garbage
    assert not check("1.2.3.4" if version == 6 else "::1")
    assert not check("not an address") and not check(None) and not check(17)
    assert inside > 1_000
