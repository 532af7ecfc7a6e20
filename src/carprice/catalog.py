"""The Moroccan used-car market: the synthetic source's tables and the real export's values.

Synthetic market (CATALOG, NEW_MODELS, CITIES and the share/factor tables): new prices
(DH) are rough list prices; they only need to be plausible and stable, since the
generator's formula, not reality, defines the ground truth. These tables are frozen:
the generator's output for a seed, and so the benchmark figures, depend on them.

Real export (AVITO_*): the values the Avito export of the original car-price project
really holds, in its own spellings. schema.py turns them into contract codes.
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

# city -> share of listings, price factor (the synthetic market's subset of AVITO_CITIES)
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

# Closed vocabularies: the contract codes, i.e. the labels Avito uses with accents
# dropped (ASCII-safe CSVs). AVITO_VALUES below lists the same values as the export
# spells them; tests/unit/test_catalog.py checks that the two match one to one.
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


# ------------------------------------------------------------------ the real export
# Values of the Avito export (avito_car_dataset_ALL.csv, 24 776 listings scraped from
# avito.ma) that the original project, Azaziop/detection_car_price, trains on:
# - closed sets: the form lists of Azaziop/detection_car_price, main_mlflow.py (the values
#   its LabelEncoders, mlflow/mlruns/1/<run>/artifacts/encoders.pkl, accept; that pickle
#   is binary and was not read); the export sample below shows each of them except the
#   rare 'Electrique', 'Endommagé' and 'Pour Pièces';
# - cities and models: read from the export as stored in youssefmaimouni/
#   houses_cars_prices_prediction, avito_car_dataset_ALL.csv (same file name, 24 776
#   rows): every value seen in a sample of 20 blocks of 16 000 characters (about 1 200
#   of its ~8 300 distinct listings; the file holds them three times). Rare values
#   outside the sample are still accepted (open categories), only reported as unseen.
# Missing marker: '--' (gearbox of listings without a details block) and empty cells.
AVITO_MISSING: tuple[str, ...] = ("--", "")

AVITO_VALUES: dict[str, tuple[str, ...]] = {
    "fuel_type": ("Diesel", "Essence", "Hybride", "Electrique"),
    "gearbox": ("Manuelle", "Automatique"),
    "origin": ("WW au Maroc", "Dédouanée", "Importée neuve", "Pas encore dédouanée"),
    "condition": ("Excellent", "Très bon", "Bon", "Correct", "Endommagé", "Pour Pièces"),
    "first_owner": ("Oui", "Non"),
}

AVITO_CITIES: tuple[str, ...] = (
    "Agadir", "Agadir Melloul", "Ain Aouda", "Ain Attig", "Ain Harrouda", "Ain Legdah",
    "Ain Taoujdate", "Ait Melloul", "Al Hoceïma", "Assa zag", "Azemmour", "Azilal", "Azrou",
    "Ben Ahmed", "Ben Guerir", "Benslimane", "Berkane", "Berrechid", "Biougra",
    "Bouskoura", "Bouznika", "Béni Mellal", "Casablanca", "Chefchaouen", "Chichaoua",
    "Dakhla", "Dcheïra El Jihadia", "Deroua", "El Borouj", "El Gara", "El Hajeb",
    "El Jadida", "El Kelâa des Sraghna", "Er-Rich", "Errachidia", "Es-Semara", "Essaouira",
    "Fquih Ben Saleh", "Fès", "Guelmim", "Guercif", "Houara Oulad Raho", "Ifrane", "Issen",
    "Jamaat Shaim", "Jorf El Melha", "Kasba Tadla", "Khemisset", "Khouribga", "Khénifra",
    "Ksar el-Kebir", "Kénitra", "Larache", "Laâyoune", "Loudaya", "Marrakech", "Martil",
    "Mediouna", "Meknès", "Midelt", "Mohammedia", "Méchouar Fès Jdid", "Nador", "Nouaceur",
    "Ouaoumana", "Ouarzazate", "Ouazzane", "Oued Laou", "Oued Zem", "Oujda", "Ouled Teïma",
    "Rabat", "Ratba", "Safi", "Salé", "Sefrou", "Settat", "Sidi Bennour",
    "Sidi Bou Othmane", "Sidi Kacem", "Sidi Slimane", "Sidi Yahya", "Sidi Yahya El Gharb",
    "Skhirat", "Skoura Ahl El Oust", "Souk Sebt Ouled Nemma", "Tan-Tan", "Tanger",
    "Taounate", "Taourirt", "Tata", "Taza", "Temara", "Thar Es-Souk", "Tifelt", "Tinghir",
    "Tit Mellil", "Tiznit", "Tétouan", "Youssoufia", "Zagora", "Zaouïat Cheikh",
)

# brand -> models, as the export spells them (case, spaces and generations vary:
# 'GOLF 7' and 'Golf', 'C-ELYSEE' and 'C-Elysée'; schema.canonical merges them).
AVITO_MODELS: dict[str, tuple[str, ...]] = {
    "Alfa Romeo": ("147", "159", "Giulietta", "Stelvio"),
    "Audi": ("A3", "A4", "A5", "A6", "A7", "Q3", "Q5", "RS3"),
    "BMW": ("M5", "Serie 1", "Serie 3", "Serie 3 coupé", "Serie 3 GT", "Serie 5", "X1", "X3",
            "X5"),
    "Chevrolet": ("Cruze",),
    "Citroen": ("Berlingo", "C-ELYSEE", "C-Elysée", "C3", "C3 Cactus", "C4", "C4 Aircross",
                "C4 CACTUS", "C4 Picasso", "C5", "C8", "DS5"),
    "Dacia": ("Dokker", "Dokker Van", "Duster", "Lodgy", "Logan", "Logan Mcv", "Sandero"),
    "Fiat": ("500", "500X", "Doblo", "Ducato", "FIORINO", "GRANDE PUNTO", "Linea", "Panda",
             "Punto", "Scudo", "TIPO"),
    "Ford": ("BEDFORD", "C-Max", "CONNECT", "ESCAPE", "Fiesta", "Focus", "Fusion", "Ka",
             "Kuga", "Mondeo", "Ranger", "Transit"),
    "Hyundai": ("Accent", "Elantra", "Grand i10", "H-1", "Santa Fe", "Tucson", "Veracruz",
                "i 10", "i 20", "i 30", "i 40", "ix 35"),
    "Jeep": ("Cherokee", "Compass", "Grand Cherokee", "Renegade"),
    "Kia": ("Carens", "Ceed", "Cerato", "Picanto", "Rio", "Sorento", "Soul", "Sportage"),
    "Land Rover": ("Defender", "Discovery", "Freelander", "Range Rover", "Range Rover Evoque",
                   "Range Rover Sport", "Velar"),
    "Mercedes-Benz": ("190", "210", "220", "250", "270", "280", "300", "CLASSE GLK",
                      "CLASSE ML", "Classe A", "Classe B", "Classe C", "Classe CLA",
                      "Classe CLK", "Classe E", "MB", "Viano", "Vito"),
    "Nissan": ("Juke", "Micra", "NOTE", "Pathfinder", "Qashqai"),
    "Opel": ("Astra", "COMBO", "Corsa", "Crossland X", "Insignia", "MOKKA"),
    "Peugeot": ("206", "206+", "207", "208", "2008", "301", "307", "307 SW", "308", "3008",
                "407", "407 SW", "508", "Bipper", "Boxer", "Expert", "Partner", "Tepee"),
    "Renault": ("12", "19", "Captur", "Clio", "Espace", "Express", "Fluence", "Kadjar",
                "Kangoo", "Kangoo Express", "Koleos", "Laguna", "Latitude", "Megane",
                "Megane 3", "Megane 4", "Megane Coupe", "Modus", "Scenic", "Symbol",
                "Talisman"),
    "Seat": ("Ibiza", "Leon"),
    "Skoda": ("Octavia", "Yeti"),
    "Suzuki": ("Carry", "Celerio", "Grand Vitara", "Swift"),
    "Toyota": ("4RUNNER", "Avensis", "Aygo", "Corolla", "Hilux", "Land Cruiser", "Prado",
               "RAV 4", "VERSO", "Yaris"),
    "Volkswagen": ("Arteon", "Bora", "CC", "Caddy", "EOS", "GOLF 4", "GOLF 5", "GOLF 6",
                   "GOLF 7", "GOLF 8", "GOLF PLUS", "Golf", "Jetta", "PASSAT CC", "Passat",
                   "Polo", "SHARAN", "Tiguan", "Touareg", "Touran"),
    "mini": ("cabrio", "cooper"),
}

# Model families the export lists both bare and with a generation number ('Golf',
# 'GOLF 4'..'GOLF 8'; 'Megane', 'Megane 3', 'Megane 4'): the number is dropped, since the
# model year already tells the generation. Body variants ('Serie 3 coupé', 'Serie 3 GT',
# '307 SW', 'Megane Coupe', 'GOLF PLUS') stay models of their own, as on Avito's list.
MODEL_GENERATIONS: tuple[str, ...] = ("Golf", "Megane")
