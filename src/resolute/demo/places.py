"""Named places for the demo world.

Coordinates are approximate town centres (WGS 84 degrees, to about 0.01°, i.e. ~1 km), written
down from public gazetteers for illustration only. They are good enough to draw a recognisable
front line and to phrase reports ("4 km SW of Toretsk"); they are not survey data and must not be
used for anything but the demo.

The contact line drawn through ``LINE_PLACES`` is schematic: it passes *through* the towns that
mark the 2025 front, although in reality most of them sit a few kilometres to one side of it.
"""

from __future__ import annotations

#: (name, oblast, lat, lon), degrees. Approximate.
PLACES: list[tuple[str, str, float, float]] = [
    # Kherson oblast, along the Dnipro
    ("Kherson", "Kherson", 46.635, 32.617),
    ("Oleshky", "Kherson", 46.617, 32.717),
    ("Nova Kakhovka", "Kherson", 46.755, 33.348),
    ("Beryslav", "Kherson", 46.841, 33.427),
    ("Kakhovka", "Kherson", 46.810, 33.480),
    # Dnipropetrovsk / Zaporizhzhia oblasts
    ("Nikopol", "Dnipropetrovsk", 47.567, 34.395),
    ("Enerhodar", "Zaporizhzhia", 47.499, 34.656),
    ("Vasylivka", "Zaporizhzhia", 47.440, 35.280),
    ("Stepnohirsk", "Zaporizhzhia", 47.590, 35.300),
    ("Zaporizhzhia", "Zaporizhzhia", 47.839, 35.140),
    ("Orikhiv", "Zaporizhzhia", 47.567, 35.785),
    ("Robotyne", "Zaporizhzhia", 47.446, 35.837),
    ("Tokmak", "Zaporizhzhia", 47.255, 35.712),
    ("Huliaipole", "Zaporizhzhia", 47.664, 36.256),
    # Donetsk oblast (Velyka Novosilka lies in Donetsk oblast, on the Zaporizhzhia border)
    ("Velyka Novosilka", "Donetsk", 47.844, 36.829),
    ("Vuhledar", "Donetsk", 47.781, 37.248),
    ("Kurakhove", "Donetsk", 47.986, 37.280),
    ("Donetsk", "Donetsk", 48.015, 37.803),
    ("Avdiivka", "Donetsk", 48.139, 37.743),
    ("Pokrovsk", "Donetsk", 48.282, 37.176),
    ("Toretsk", "Donetsk", 48.398, 37.847),
    ("Horlivka", "Donetsk", 48.305, 38.029),
    ("Kostiantynivka", "Donetsk", 48.527, 37.707),
    ("Chasiv Yar", "Donetsk", 48.588, 37.835),
    ("Bakhmut", "Donetsk", 48.595, 38.000),
    ("Kramatorsk", "Donetsk", 48.723, 37.556),
    ("Sloviansk", "Donetsk", 48.853, 37.605),
    ("Siversk", "Donetsk", 48.867, 38.100),
    ("Lyman", "Donetsk", 48.989, 37.811),
    # Luhansk oblast
    ("Kreminna", "Luhansk", 49.047, 38.217),
    ("Svatove", "Luhansk", 49.410, 38.160),
    # Kharkiv oblast
    ("Kupiansk", "Kharkiv", 49.710, 37.615),
    ("Kharkiv", "Kharkiv", 49.993, 36.230),
    ("Vovchansk", "Kharkiv", 50.290, 36.940),
]

#: Places the schematic contact line runs through, south-west to north-east.
LINE_PLACES: list[str] = [
    "Kherson",
    "Nova Kakhovka",
    "Enerhodar",
    "Stepnohirsk",
    "Orikhiv",
    "Robotyne",
    "Huliaipole",
    "Velyka Novosilka",
    "Vuhledar",
    "Kurakhove",
    "Pokrovsk",
    "Toretsk",
    "Chasiv Yar",
    "Siversk",
    "Lyman",
    "Kupiansk",
    "Vovchansk",
]

#: Relative weight of fighting around each line place; the busiest sectors of 2025 get most.
HOTSPOTS: dict[str, float] = {
    "Kherson": 1.5,
    "Nova Kakhovka": 0.3,
    "Enerhodar": 0.2,
    "Stepnohirsk": 0.6,
    "Orikhiv": 1.3,
    "Robotyne": 0.4,
    "Huliaipole": 1.2,
    "Velyka Novosilka": 0.4,
    "Vuhledar": 0.2,
    "Kurakhove": 0.4,
    "Pokrovsk": 3.0,
    "Toretsk": 2.0,
    "Chasiv Yar": 2.0,
    "Siversk": 1.0,
    "Lyman": 1.0,
    "Kupiansk": 2.5,
    "Vovchansk": 0.8,
}


def place(name: str) -> tuple[str, str, float, float]:
    """Return the ``(name, oblast, lat, lon)`` entry for ``name`` (degrees, approximate)."""
    for entry in PLACES:
        if entry[0] == name:
            return entry
    raise KeyError(name)
