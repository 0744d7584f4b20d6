"""Realistic Pays de Brest data for ``papi demo`` (places, skills, equipment, events)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def _at(days: int, hour: int, minutes: int = 0) -> str:
    base = datetime.now(PARIS).replace(hour=hour, minute=minutes, second=0, microsecond=0)
    return (base + timedelta(days=days)).isoformat()


def demo_places() -> list[dict[str, Any]]:
    """Five places, each with its place profile and its offers."""
    return [
        {
            "name": "EPN Brest Bellevue",
            "commune": "Brest",
            "place": {
                "nom": "EPN Brest Bellevue",
                "adresse": "1 place Napoléon III",
                "code_postal": "29200",
                "commune": "Brest",
                "code_insee": "29019",
                "latitude": 48.4023,
                "longitude": -4.5086,
                "horaires": "Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00",
                "courriels": ["epn.bellevue@exemple.bzh"],
                "telephone": "+33298000001",
                "presentation_resume": "Espace public numérique de quartier : accès libre, "
                "ateliers et accompagnement aux démarches en ligne.",
                "services": [
                    "Aide aux démarches administratives",
                    "Maîtrise des outils numériques du quotidien",
                    "Accès internet et matériel informatique",
                ],
                "frais_a_charge": ["Gratuit"],
                "modalites_acces": ["Se présenter", "Téléphoner"],
            },
            "skills": [
                {"title": "Démarches en ligne : CAF, impôts, ANTS", "theme": "Navigation sur internet",
                 "level": "Débutant", "description": "Accompagnement individuel sur rendez-vous."},
                {"title": "Créer et gérer sa boîte mail", "theme": "Courriels", "level": "Débutant"},
            ],
            "equipment": [
                {"title": "Vidéoprojecteur Epson", "category": "Vidéoprojecteur", "quantity": 1,
                 "condition": "Bon état", "loan_conditions": "Prêt d'une semaine, retrait sur place."},
            ],
            "events": [
                {"title": "Initiation au numérique pour les seniors", "start": _at(7, 14),
                 "end": _at(7, 16), "location": "EPN Brest Bellevue", "capacity": 8,
                 "audience": "public"},
            ],
        },
        {
            "name": "Médiathèque de Plougastel-Daoulas",
            "commune": "Plougastel-Daoulas",
            "place": {
                "nom": "Médiathèque de Plougastel-Daoulas",
                "adresse": "4 rue Jean Fournier",
                "code_postal": "29470",
                "commune": "Plougastel-Daoulas",
                "code_insee": "29189",
                "horaires": "Tu,Th 14:00-18:00; We,Sa 10:00-12:00,14:00-18:00",
                "presentation_resume": "Espace multimédia de la médiathèque.",
                "services": ["Loisirs et créations numériques", "Compréhension du monde numérique"],
                "frais_a_charge": ["Gratuit"],
            },
            "skills": [
                {"title": "Retouche photo avec GIMP", "theme": "Créer avec le numérique",
                 "level": "Intermédiaire"},
                {"title": "Parents : accompagner les écrans à la maison", "theme": "Parentalité"},
            ],
            "equipment": [
                {"title": "Appareil photo reflex Canon", "category": "Photo", "quantity": 2,
                 "loan_conditions": "Réservé aux animateurs du réseau."},
            ],
            "events": [
                {"title": "Atelier retouche photo", "start": _at(10, 10), "end": _at(10, 12),
                 "location": "Espace multimédia", "capacity": 10, "audience": "public"},
            ],
        },
        {
            "name": "Cybercommune de Landerneau",
            "commune": "Landerneau",
            "place": {
                "nom": "Cybercommune de Landerneau",
                "adresse": "Place Général de Gaulle",
                "code_postal": "29800",
                "commune": "Landerneau",
                "code_insee": "29103",
                "horaires": "Mo-Fr 13:30-17:30",
                "services": ["Insertion professionnelle via le numérique"],
            },
            "skills": [
                {"title": "CV et candidature en ligne", "theme": "Insertion professionnelle",
                 "level": "Débutant"},
                {"title": "Tableur : budget familial", "theme": "Bureautique"},
            ],
            "equipment": [
                {"title": "Valise de 8 ordinateurs portables", "category": "Ordinateur portable",
                 "quantity": 1, "condition": "Révisée en 2026"},
            ],
            "events": [
                {"title": "Formation animateurs : sécurité numérique", "start": _at(14, 9, 30),
                 "end": _at(14, 16, 30), "location": "Landerneau", "capacity": 12,
                 "audience": "animateurs",
                 "description": "Journée de formation entre animateurs du réseau."},
            ],
        },
        {
            "name": "Point numérique de Crozon",
            "commune": "Crozon",
            "place": {
                "nom": "Point numérique de Crozon",
                "code_postal": "29160",
                "commune": "Crozon",
                "code_insee": "29042",
                "horaires": "Mo,We,Fr 09:00-12:00",
                "services": ["Utilisation sécurisée du numérique"],
            },
            "skills": [
                {"title": "Repérer les arnaques en ligne", "theme": "Sécurité numérique",
                 "level": "Débutant"},
            ],
            "equipment": [
                {"title": "Tablettes Android (lot de 6)", "category": "Tablette", "quantity": 6},
            ],
            "events": [
                {"title": "Café numérique : se protéger des arnaques", "start": _at(3, 10),
                 "end": _at(3, 12), "location": "Salle des fêtes de Crozon", "audience": "public"},
            ],
        },
        {
            "name": "Espace numérique d'Ouessant",
            "commune": "Ouessant",
            "place": {
                "nom": "Espace numérique d'Ouessant",
                "code_postal": "29242",
                "commune": "Ouessant",
                "code_insee": "29155",
                "horaires": "Sa 10:00-12:00",
                "presentation_resume": "Accès internet et visio pour les habitants de l'île.",
                "services": ["Accès internet et matériel informatique"],
            },
            "skills": [
                {"title": "Téléconsultation et Mon Espace Santé", "theme": "Santé"},
            ],
            "equipment": [
                {"title": "Kit de visioconférence", "category": "Visioconférence", "quantity": 1},
            ],
            "events": [
                {"title": "Visio avec la famille : prise en main", "start": _at(5, 10),
                 "end": _at(5, 11, 30), "location": "Mairie d'Ouessant", "audience": "public"},
            ],
        },
    ]  # fmt: skip
