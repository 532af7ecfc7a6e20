"""The Moroccan used-car market the synthetic source draws from.

New prices (DH) are rough list prices; they only need to be plausible and stable,
since the generator's formula, not reality, defines the ground truth.
"""

from __future__ import annotations

# brand -> {model: new price in DH}
CATALOG: dict[str, dict[str, int]] = {
    "Dacia": {"Logan": 125_000, "Sandero": 135_000, "Duster": 195_000, "Lodgy": 170_000,
              "Dokker": 150_000},
    "Renault": {"Clio": 165_000, "Megane": 235_000, "Kangoo": 185_000, "Captur": 225_000,
                "Symbol": 130_000},
    "Peugeot": {"208": 175_000, "308": 255_000, "301": 155_000, "3008": 335_000,
                "Partner": 195_000},
    "Citroen": {"C3": 165_000, "C4": 245_000, "C-Elysee": 150_000, "Berlingo": 195_000},
    "Volkswagen": {"Golf": 285_000, "Polo": 195_000, "Passat": 385_000, "Tiguan": 410_000,
                   "Touareg": 720_000},
    "Toyota": {"Yaris": 175_000, "Corolla": 255_000, "Auris": 235_000, "Hilux": 355_000,
               "Land Cruiser": 920_000},
    "Hyundai": {"i10": 125_000, "Accent": 165_000, "Elantra": 235_000, "Tucson": 325_000},
    "Kia": {"Picanto": 125_000, "Rio": 155_000, "Cerato": 215_000, "Sportage": 305_000},
    "Ford": {"Fiesta": 165_000, "Focus": 235_000, "Kuga": 325_000, "Ranger": 335_000},
    "Fiat": {"Punto": 135_000, "Tipo": 175_000, "500": 165_000, "Doblo": 175_000},
    "Mercedes-Benz": {"Classe A": 385_000, "Classe C": 525_000, "Classe E": 710_000,
                      "GLC": 730_000},
    "BMW": {"Serie 1": 385_000, "Serie 3": 525_000, "Serie 5": 710_000, "X3": 660_000,
            "X5": 960_000},
    "Audi": {"A3": 385_000, "A4": 505_000, "A6": 690_000, "Q5": 660_000},
    "Nissan": {"Micra": 145_000, "Juke": 235_000, "Qashqai": 295_000},
    "Skoda": {"Fabia": 175_000, "Octavia": 255_000},
    "Seat": {"Ibiza": 175_000, "Leon": 235_000},
    "Opel": {"Corsa": 165_000, "Astra": 235_000},
    "Suzuki": {"Swift": 150_000, "Vitara": 240_000},
}

# Models launched after the base catalog: the "new models" drift knob draws from these.
NEW_MODELS: dict[str, dict[str, int]] = {
    "Dacia": {"Jogger": 210_000, "Spring": 140_000},
    "Renault": {"Arkana": 290_000},
    "Peugeot": {"2008": 260_000},
    "Hyundai": {"Kona": 280_000},
    "Toyota": {"C-HR": 330_000},
}

# city -> share of listings, price factor
CITIES: dict[str, tuple[float, float]] = {
    "Casablanca": (0.30, 1.04),
    "Rabat": (0.12, 1.03),
    "Marrakech": (0.10, 1.01),
    "Tanger": (0.08, 1.00),
    "Fes": (0.07, 0.98),
    "Agadir": (0.06, 1.00),
    "Meknes": (0.05, 0.97),
    "Kenitra": (0.05, 0.98),
    "Oujda": (0.04, 0.96),
    "Tetouan": (0.04, 0.97),
    "El Jadida": (0.03, 0.97),
    "Mohammedia": (0.03, 1.02),
    "Safi": (0.02, 0.95),
    "Beni Mellal": (0.01, 0.95),
}

# Closed vocabularies, in the labels Avito uses (accents dropped for ASCII-safe CSVs).
FUEL_TYPES: dict[str, tuple[float, float]] = {  # share, price factor
    "Diesel": (0.62, 1.05), "Essence": (0.33, 1.00), "Hybride": (0.04, 1.10),
    "Electrique": (0.01, 1.12),
}
GEARBOXES: dict[str, tuple[float, float]] = {"Manuelle": (0.75, 1.00), "Automatique": (0.25, 1.08)}
ORIGINS: dict[str, tuple[float, float]] = {
    "WW au Maroc": (0.70, 1.00), "Dedouanee": (0.18, 0.95), "Importee neuve": (0.10, 1.03),
    "Pas encore dedouanee": (0.02, 0.85),
}
CONDITIONS: dict[str, tuple[float, float]] = {
    "Excellent": (0.20, 1.06), "Tres bon": (0.40, 1.00), "Bon": (0.28, 0.94),
    "Correct": (0.09, 0.86), "Endommage": (0.025, 0.68), "Pour pieces": (0.005, 0.40),
}

# contract column -> Avito column. The order is the feature order of the model.
EQUIPMENT: dict[str, str] = {
    "alloy_wheels": "Jantes aluminium",
    "air_conditioning": "Climatisation",
    "navigation_gps": "Système de navigation/GPS",
    "sunroof": "Toit ouvrant",
    "leather_seats": "Sièges cuir",
    "parking_sensors": "Radar de recul",
    "rear_camera": "Caméra de recul",
    "electric_windows": "Vitres électriques",
    "abs": "ABS",
    "esp": "ESP",
    "cruise_control": "Régulateur de vitesse",
    "speed_limiter": "Limiteur de vitesse",
    "bluetooth_audio": "CD/MP3/Bluetooth",
    "onboard_computer": "Ordinateur de bord",
    "remote_central_locking": "Verrouillage centralisé à distance",
}


def brand_models(include_new: bool = True) -> dict[str, list[str]]:
    """brand -> sorted model names, the choices the app offers."""
    out = {brand: sorted(models) for brand, models in CATALOG.items()}
    if include_new:
        for brand, models in NEW_MODELS.items():
            out[brand] = sorted({*out.get(brand, []), *models})
    return out
