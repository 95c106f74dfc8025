"""ISO 4217 currency codes and their minor units.

`CURRENCY_MINOR_UNITS` maps every active code of ISO 4217 List One (as published by SIX on
2026-01-01) to its minor unit: the number of decimal digits an amount in that currency is
rounded to. Codes whose minor unit the standard gives as "N.A." (gold, silver, platinum,
palladium, the bond-market units XBA-XBD, XDR, XSU, XUA, and the testing / no-currency codes
XTS and XXX) are left out on purpose: no invoice can be rounded in them.

Withdrawn codes are not accepted: ANG (replaced by XCG), BGN (euro since 2026-01-01), CUC,
HRK, SLL, ZWL and the older VEF, MRO, STD.
"""

from __future__ import annotations

_BY_MINOR_UNIT: dict[int, str] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    2: (
        "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB "
        "EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES "
        "KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR "
        "MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD "
        "RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP "
        "TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XAD XCD XCG YER ZAR ZMW ZWG"
    ),
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}

CURRENCY_MINOR_UNITS: dict[str, int] = {
    code: minor_unit
    for minor_unit, codes in _BY_MINOR_UNIT.items()
    for code in codes.split()
}
