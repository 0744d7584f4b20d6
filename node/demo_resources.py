"""The fiches of ``papi demo``: realistic workshop materials written by the animators of
the demo places, each with a PDF to print (generated, see demo_pdf.py)."""

from __future__ import annotations

from typing import Any

from .demo_pdf import simple_pdf

#: Place name -> its fiches. Each fiche: payload fields, plus "pdf" (name, paragraphs).
_FICHES: dict[str, list[dict[str, Any]]] = {
    "EPN Brest Bellevue": [
        {
            "title": "Créer son adresse e-mail",
            "summary": "Ouvrir une boîte mail gratuite pas à pas, choisir une adresse sérieuse "
            "et un mot de passe solide, puis envoyer son premier message.",
            "themes": ["Courriels"],
            "audience": "public",
            "duration_minutes": 90,
            "licence": "CC-BY-SA-4.0",
            "body": (
                "# Avant l'atelier\n\n"
                "- un téléphone portable (pour recevoir le code de vérification) ;\n"
                "- une pièce d'identité n'est **pas** nécessaire.\n\n"
                "# Étapes\n\n"
                "1. Ouvrir le site d'un fournisseur (La Poste, Orange, Gmail, Proton…).\n"
                "2. Cliquer sur « Créer un compte ».\n"
                "3. Choisir une adresse du type `prenom.nom@…` : elle servira pour les "
                "démarches administratives.\n"
                "4. Choisir un mot de passe d'au moins 12 caractères : une phrase facile à "
                "retenir convient très bien.\n"
                "5. Noter l'adresse et le mot de passe sur la fiche, à garder chez soi.\n\n"
                "# Pour aller plus loin\n\n"
                "Envoyer un message à l'animateur ou l'animatrice, avec une pièce jointe.\n\n"
                "| Fournisseur | Gratuit | Publicité |\n|---|---|---|\n"
                "| La Poste | oui | oui |\n| Proton | oui | non |\n"
            ),
            "pdf": (
                "Créer son adresse e-mail.pdf",
                [
                    "Mon adresse e-mail : ............................................",
                    "Mon mot de passe (à garder chez moi) : ..........................",
                    "1. Ouvrir le site du fournisseur. 2. Cliquer sur « Créer un compte ». "
                    "3. Choisir l'adresse. 4. Choisir le mot de passe. 5. Valider le code "
                    "reçu par SMS.",
                    "Un conseil : une phrase de passe, par exemple « Mon chat dort sur le "
                    "radiateur », est facile à retenir et difficile à deviner.",
                ],
            ),
        },
    ],
    "Médiathèque de Plougastel-Daoulas": [
        {
            "title": "Reconnaître un e-mail d'hameçonnage",
            "summary": "Les indices qui trahissent un faux message de la banque, des impôts "
            "ou d'un transporteur, et que faire quand on a un doute.",
            "themes": ["Sécurité numérique", "Courriels"],
            "audience": "public",
            "duration_minutes": 60,
            "licence": "CC-BY-4.0",
            "body": (
                "# Les indices\n\n"
                "- **L'urgence** : « votre compte sera bloqué sous 24 h ».\n"
                "- **L'adresse de l'expéditeur** ne correspond pas à l'organisme.\n"
                "- **Le lien** mène vers un site dont l'adresse est étrange.\n"
                "- On vous demande un mot de passe ou un numéro de carte : aucun organisme "
                "sérieux ne le fait par e-mail.\n\n"
                "# En cas de doute\n\n"
                "Ne pas cliquer. Aller sur le site officiel en tapant son adresse, ou "
                "appeler l'organisme. Signaler le message sur "
                "[signal-spam.fr](https://www.signal-spam.fr/).\n"
            ),
            "pdf": (
                "Hameçonnage - les 5 indices.pdf",
                [
                    "1. Un message urgent ou menaçant.",
                    "2. Une adresse d'expéditeur bizarre.",
                    "3. Un lien vers un site inconnu.",
                    "4. Une demande de mot de passe ou de numéro de carte.",
                    "5. Des fautes, un logo flou.",
                    "Dans le doute : ne pas cliquer, appeler l'organisme, signaler sur "
                    "signal-spam.fr.",
                ],
            ),
        },
    ],
    "Cybercommune de Landerneau": [
        {
            "title": "Prendre en main une tablette",
            "summary": "Premier atelier pour découvrir une tablette : allumer, toucher, "
            "faire glisser, ouvrir une application et revenir à l'accueil.",
            "themes": ["Prendre en main du matériel"],
            "audience": "public",
            "duration_minutes": 120,
            "licence": "CC-BY-NC-SA-4.0",
            "body": (
                "# Déroulé\n\n"
                "1. Allumer et déverrouiller la tablette (10 min).\n"
                "2. Les gestes : toucher, faire glisser, écarter deux doigts (30 min).\n"
                "3. Ouvrir l'appareil photo et prendre une photo (20 min).\n"
                "4. Revenir à l'écran d'accueil, fermer une application (20 min).\n\n"
                "> Laisser chaque personne manipuler : l'animateur ne touche pas la "
                "tablette.\n"
            ),
            "pdf": (
                "Tablette - les gestes.pdf",
                [
                    "Toucher : une pression brève pour ouvrir.",
                    "Faire glisser : le doigt posé, on le déplace pour faire défiler.",
                    "Écarter deux doigts : pour agrandir une photo ou un texte.",
                    "Le bouton ou le trait en bas de l'écran : revenir à l'accueil.",
                ],
            ),
        },
    ],
    "Point numérique de Crozon": [
        {
            "title": "Faire sa demande de carte d'identité en ligne",
            "summary": "La pré-demande sur le site de l'ANTS, les pièces à préparer et la "
            "prise de rendez-vous en mairie.",
            "themes": ["Navigation sur internet"],
            "audience": "animateurs",
            "duration_minutes": 45,
            "licence": "etalab-2.0",
            "body": (
                "# À préparer\n\n"
                "- une adresse e-mail ;\n- un justificatif de domicile récent ;\n"
                "- une photo d'identité avec son code (ou une photo faite en mairie).\n\n"
                "# Sur le site de l'ANTS\n\n"
                "Créer un compte (ou passer par FranceConnect), remplir la pré-demande, "
                "noter le numéro de pré-demande.\n"
            ),
            "pdf": (
                "Carte d'identité - pièces à préparer.pdf",
                [
                    "Numéro de pré-demande : ......................................",
                    "Pièces : justificatif de domicile, photo d'identité, ancienne carte.",
                    "Rendez-vous en mairie le : ....................................",
                ],
            ),
        },
    ],
}


def demo_resources(place_name: str) -> list[tuple[dict[str, Any], str, bytes]]:
    """The fiches of a demo place: (payload without attachments, PDF name, PDF bytes)."""
    fiches = []
    for fiche in _FICHES.get(place_name, []):
        payload = {key: value for key, value in fiche.items() if key != "pdf"}
        name, paragraphs = fiche["pdf"]
        fiches.append((payload, name, simple_pdf(fiche["title"], paragraphs)))
    return fiches
