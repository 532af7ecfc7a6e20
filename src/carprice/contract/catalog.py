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
# - cities (191) and brand/model spellings (371): read from the whole export as stored in
#   youssefmaimouni/houses_cars_prices_prediction, avito_car_dataset_ALL.csv at commit
#   6f7bac0f (same file name, columns and 24 776 rows as Azaziop's pipeline report),
#   all 420 blocks of 16 000 characters. Values outside these lists are still accepted
#   (open categories), only reported as unseen.
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
    "Aarab Sebbah Gheris", "Afourar", "Agadir", "Agadir Melloul", "Aghbalou N'kerdous", "Ahfir",
    "Ain Aouda", "Ain Attig", "Ain Harrouda", "Ain Legdah", "Ain Taoujdate", "Ain Tizgha",
    "Ait Melloul", "Ait Ourir", "Al Aaroui", "Al Hoceïma", "Al Oioun Sidi Mellouk", "Arbaoua",
    "Asilah", "Assa zag", "Azemmour", "Azilal", "Azrou", "Bab Berred", "Bab Taza", "Bejaad",
    "Belfaa", "Ben Ahmed", "Ben Guerir", "Benslimane", "Berkane", "Berrechid", "Biougra",
    "Bir Jdid", "Bouarfa", "Boughriba", "Bouizakarne", "Boujdour", "Boulemane", "Bouskoura",
    "Bouznika", "Brachoua", "Béni Mellal", "Béni Yakhlef", "Casablanca", "Chefchaouen",
    "Chichaoua", "Dakhla", "Dar Bouazza", "Dcheïra El Jihadia", "Demnate", "Deroua", "Driouch",
    "Echemmaia", "El Borouj", "El Gara", "El Hajeb", "El Jadida", "El Kelâa des Sraghna",
    "Er-Rich", "Errachidia", "Errahma", "Es-Semara", "Essaouira", "Fnideq", "Foum zguid",
    "Fquih Ben Saleh", "Fès", "Goulmima", "Guelmim", "Guercif", "Had Soualem", "Houara Oulad Raho",
    "Ifrane", "Imintanoute", "Imouzzer", "Imouzzer-Kendar", "Inzegan", "Issen", "Jamaat Shaim",
    "Jorf El Melha", "Karia Ba Mohamed", "Kasba Tadla", "Khemisset", "Khouribga", "Khénifra",
    "Ksar el-Kebir", "Ksar es-Seghir", "Kénitra", "Laaouama", "Laattaouia", "Lagfifat", "Larache",
    "Laâyoune", "Lbir Jdid", "Loudaya", "Mallalienne", "Marrakech", "Martil", "Mdiq",
    "Mechra Bel Ksiri", "Mediouna", "Meknassa Al Gharbia", "Meknès", "Midelt", "Missour",
    "Mohammedia", "Moulay Driss Zerhoun", "Mrir't", "Méchouar Fès Jdid", "Nador", "Nouaceur",
    "Oualidia", "Ouaouizeght", "Ouaoumana", "Ouarzazate", "Ouazzane", "Oued Amlil", "Oued Laou",
    "Oued Zem", "Oujda", "Oulad Said L'oued", "Ouled Ayad", "Ouled Teïma", "Oulmes", "Ourika",
    "Outat El Haj", "Rabat", "Ratba", "Ribat el Kheir", "Rissani", "Rommani", "Safi", "Saidia",
    "Salé", "Sebt Gzoula", "Sefrou", "Settat", "Sidi Allal El Bahraoui", "Sidi Allal Tazi",
    "Sidi Bennour", "Sidi Bou Othmane", "Sidi Boukhalkhal", "Sidi Hajjaj", "Sidi Ifni",
    "Sidi Kacem", "Sidi Lyamani", "Sidi Rahal", "Sidi Rahal Chatai", "Sidi Slimane",
    "Sidi Slimane Echcharraa", "Sidi Smail", "Sidi Taibi", "Sidi Yahya", "Sidi Yahya El Gharb",
    "Sidi Yahya Zaer", "Skhirat", "Skhour Rhamna", "Skoura Ahl El Oust", "Souk El Arbaa",
    "Souk Sebt Ouled Nemma", "Souk Tlet El Gharb", "Tahannaout", "Tahla", "Taliouine", "Talmest",
    "Tamesna", "Tan-Tan", "Tanger", "Taounate", "Taourirt", "Targuist", "Taroudant", "Tata",
    "Taza", "Tazart", "Temara", "Thar Es-Souk", "Tifelt", "Tinejdad", "Tinghir", "Tissa",
    "Tit Mellil", "Tiznit", "Tétouan", "Youssoufia", "Zagora", "Zaouïat Cheikh", "Zaïo", "Zemamra",
    "Zoumi",
)

# brand -> models, as the export spells them (case, spaces and generations vary:
# 'GOLF 7' and 'Golf', 'C-ELYSEE' and 'C-Elysée'; schema.canonical merges them).
AVITO_MODELS: dict[str, tuple[str, ...]] = {
    "Alfa Romeo": ("147", "159", "Giulietta", "Gt", "Mito", "Stelvio"),
    "Audi": ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "Q2", "Q3", "Q5", "Q7", "Q8", "R8",
             "RS3", "RS5", "S3", "S5", "TT"),
    "BMW": ("CABRIOLET", "M3", "M5", "Serie 1", "Serie 2 active toure", "Serie 2 coupé", "Serie 3",
            "Serie 3 coupé", "Serie 3 GT", "Serie 4", "Serie 4 coupé", "Serie 4 gran coupé",
            "Serie 5", "Serie 5 M2", "Serie 6", "Serie 7", "X1", "X3", "X4", "X5", "X6"),
    "Chevrolet": ("Captiva", "Cruze", "El Camino", "Spark", "TRANS SPORT"),
    "Citroen": ("AX", "Berlingo", "C-ELYSEE", "C-Elysée", "C1", "C3", "C3 Aircross", "C3 Cactus",
                "C3 Picasso", "C4", "C4 Aircross", "C4 CACTUS", "C4 Picasso", "C5", "C8", "DS4",
                "DS5", "DS7", "GRAND C4 PICASSO", "Jumper", "Jumpy", "Nemo", "XSARA",
                "Xsara Picasso"),
    "Dacia": ("Dokker", "Dokker Van", "Duster", "Lodgy", "Logan", "Logan Mcv", "Sandero"),
    "Fiat": ("126", "500", "500C", "500L", "500X", "Albea", "Bravo", "BURSTNER", "Doblo", "Ducato",
             "FIORINO", "FREEMONT", "GRANDE PUNTO", "Linea", "Palio", "Panda", "Pinto", "Punto",
             "Scudo", "TIPO", "Uno"),
    "Ford": ("BEDFORD", "C-Max", "CONNECT", "COUGAR", "COURRIER", "Ecosport", "ESCAPE", "Fiesta",
             "Focus", "FOCUS C-MAX", "Fusion", "Galaxy", "Ka", "Kuga", "Mondeo", "Mustang",
             "Ranger", "S-Max", "Tourneo", "Transit"),
    "Hyundai": ("Accent", "Atos Prime", "Azera", "CRETA", "Elantra", "Genesis", "Grand i10", "H",
                "H-1", "H-100", "i 10", "i 20", "i 30", "i 40", "ix 35", "LANTRA", "Santa Fe",
                "SONATA", "TERRACAN", "Tucson", "Veracruz"),
    "Jeep": ("Cherokee", "Compass", "Grand Cherokee", "Patriot", "Renegade", "Wrangler"),
    "Kia": ("Carens", "CARNIVAL", "Ceed", "Cerato", "K2700", "Mohave", "Optima", "Picanto", "Rio",
            "Sorento", "Soul", "Sportage"),
    "Land Rover": ("Defender", "Discovery", "Discovery Sport", "Freelander", "Range Rover",
                   "Range Rover Evoque", "Range Rover Sport", "Velar"),
    "Mercedes-Benz": ("190", "207", "210", "220", "230", "250", "260", "270", "280", "300", "310",
                      "CITAN", "Classe A", "Classe B", "Classe C", "CLASSE C COUPE", "Classe CL",
                      "Classe CLA", "Classe CLK", "Classe CLS", "Classe E", "Classe GLA",
                      "Classe GLC", "CLASSE GLK", "Classe M", "CLASSE ML", "Classe S", "Classe V",
                      "MB", "Sprinter", "VANEO", "Viano", "Vito"),
    "mini": ("cabrio", "cooper", "country man", "one"),
    "Nissan": ("240SX", "280", "ALMERA", "EVALIA", "Juke", "Micra", "Navara", "NOTE", "Pathfinder",
               "PATROL", "Pick up", "Qashqai", "X-Trail"),
    "Opel": ("ADAM", "ANTARA", "Astra", "COMBO", "Corsa", "Crossland X", "Grandland X", "Insignia",
             "Meriva", "MOKKA", "Zafira"),
    "Peugeot": ("1007", "104", "108", "2008", "205", "206", "206 CC", "206 SW", "206+", "207",
                "207 CC", "207 SW", "208", "3008", "301", "306", "307", "307 CC", "307 SW", "308",
                "308 SW", "4007", "406", "407", "407 COUPE", "407 SW", "5008", "507", "508", "607",
                "806", "807", "Bipper", "Boxer", "duster", "Expert", "Partner", "Tepee"),
    "Renault": ("12", "14", "16", "19", "Avantime", "Captur", "Clio", "Espace", "Express",
                "Fluence", "Fuego", "Grand Scenic", "Kadjar", "Kangoo", "Kangoo Express", "Koleos",
                "Laguna", "Laguna Coupe", "Latitude", "Master", "Megane", "Megane 3", "Megane 4",
                "Megane Coupe", "Megane Estate", "Megane Sedan", "Modus", "Scenic", "Symbol",
                "Talisman", "Trafic", "Twingo", "Zoe"),
    "Seat": ("Altea", "ALTEA XL", "Ateca", "Cordoba", "Exeo", "Ibiza", "Leon", "LEON ST", "Toledo"),
    "Skoda": ("Fabia", "Kamiq", "Kodiaq", "Octavia", "RAPID", "Roomster", "Superb", "Yeti"),
    "Suzuki": ("AERIO", "Carry", "Celerio", "Grand Vitara", "Swift", "Vitara"),
    "Toyota": ("4RUNNER", "Auris", "Avensis", "Aygo", "C-HR", "CELICA", "Corolla", "Corolla verso",
               "CORONA", "Hi Ace", "Hilux", "Land Cruiser", "Prado", "Prius", "RAV 4", "VERSO",
               "Yaris"),
    "Volkswagen": ("Amarok", "Arteon", "Beetle", "Bora", "Caddy", "CC", "COCCINELLE", "CRAFTER",
                   "EOS", "Fox", "Gol", "Golf", "GOLF 3", "GOLF 4", "GOLF 5", "GOLF 6", "GOLF 7",
                   "GOLF 8", "GOLF PLUS", "Jetta", "NEW BEETLE", "Passat", "PASSAT CC", "Polo",
                   "SHARAN", "Tiguan", "Touareg", "Touran", "TRANSPORTER"),
}

# Model families the export lists both bare and with a generation number ('Golf',
# 'GOLF 4'..'GOLF 8'; 'Megane', 'Megane 3', 'Megane 4'): the number is dropped, since the
# model year already tells the generation. Body variants ('Serie 3 coupé', 'Serie 3 GT',
# '307 SW', 'Megane Coupe', 'GOLF PLUS') stay models of their own, as on Avito's list.
MODEL_GENERATIONS: tuple[str, ...] = ("Golf", "Megane")
