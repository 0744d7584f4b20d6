# ruff: noqa: E501  (catalogues of offers: one line per wording reads best)
"""A realistic, deterministic corpus of the network's offers for the search quality set.

About 150 places (médiathèques, EPN, centres sociaux, mairies, France Services, tiers-lieux,
associations) across the ~100 communes of the Pays de Brest, each with skills (by the
BRIEF's themes), equipment to borrow and upcoming events, written as animators write them:
brands and models in titles, abbreviations, plurals, the odd missing accent.

Every object carries *concepts*: what it is about (``videoprojecteur``, ``smartphone``,
``impots``...), fixed by the catalogue entry it was drawn from, never by its wording. The
judged queries (``queries.py``) say which concepts (and commune, kind) they look for;
that is what makes an object relevant, whatever words its title happens to use.

The same seed always gives the same corpus; only event dates move with ``now`` (events are
always upcoming, so none is hidden as past).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SEED = 29200
PARIS = ZoneInfo("Europe/Paris")

#: The communes of the Pays de Brest, by intercommunality, with how many places each has.
COMMUNES: list[tuple[str, str, int]] = [
    # Brest métropole
    ("Brest", "29200", 9),
    ("Bohars", "29820", 1),
    ("Gouesnou", "29850", 1),
    ("Guilers", "29820", 1),
    ("Guipavas", "29490", 2),
    ("Le Relecq-Kerhuon", "29480", 2),
    ("Plougastel-Daoulas", "29470", 2),
    ("Plouzané", "29280", 2),
    # Pays d'Iroise
    ("Brélès", "29810", 1),
    ("Le Conquet", "29217", 1),
    ("Lampaul-Plouarzel", "29810", 1),
    ("Lampaul-Ploudalmézeau", "29830", 1),
    ("Landunvez", "29840", 1),
    ("Lanildut", "29840", 1),
    ("Lanrivoaré", "29290", 1),
    ("Locmaria-Plouzané", "29280", 1),
    ("Milizac-Guipronvel", "29290", 1),
    ("Île-Molène", "29259", 1),
    ("Ouessant", "29242", 1),
    ("Plouarzel", "29810", 1),
    ("Ploudalmézeau", "29830", 2),
    ("Plougonvelin", "29217", 1),
    ("Ploumoguer", "29810", 1),
    ("Plourin", "29830", 1),
    ("Porspoder", "29840", 1),
    ("Saint-Renan", "29290", 2),
    ("Trébabu", "29217", 1),
    ("Tréouergat", "29290", 1),
    # Pays des Abers
    ("Bourg-Blanc", "29860", 1),
    ("Coat-Méal", "29870", 1),
    ("Kersaint-Plabennec", "29860", 1),
    ("Landéda", "29870", 1),
    ("Lannilis", "29870", 2),
    ("Le Drennec", "29860", 1),
    ("Loc-Brévalaire", "29260", 1),
    ("Plabennec", "29860", 2),
    ("Plouguerneau", "29880", 2),
    ("Plouguin", "29830", 1),
    ("Plouvien", "29860", 1),
    ("Saint-Pabu", "29830", 1),
    ("Tréglonou", "29870", 1),
    # Lesneven Côte des Légendes
    ("Lesneven", "29260", 2),
    ("Le Folgoët", "29260", 1),
    ("Goulven", "29890", 1),
    ("Guissény", "29880", 1),
    ("Kerlouan", "29890", 1),
    ("Kernilis", "29260", 1),
    ("Kernouës", "29260", 1),
    ("Lanarvily", "29260", 1),
    ("Ploudaniel", "29260", 1),
    ("Plouider", "29260", 1),
    ("Plounéour-Brignogan-Plages", "29890", 1),
    ("Saint-Frégant", "29260", 1),
    ("Saint-Méen", "29260", 1),
    ("Trégarantec", "29260", 1),
    # Pays de Landerneau-Daoulas
    ("Landerneau", "29800", 3),
    ("Daoulas", "29460", 1),
    ("Dirinon", "29460", 1),
    ("Hanvec", "29460", 1),
    ("L'Hôpital-Camfrout", "29460", 1),
    ("Irvillac", "29460", 1),
    ("La Forest-Landerneau", "29800", 1),
    ("La Martyre", "29800", 1),
    ("La Roche-Maurice", "29800", 1),
    ("Lanneuffret", "29400", 1),
    ("Le Tréhou", "29450", 1),
    ("Loc-Eguiner", "29400", 1),
    ("Logonna-Daoulas", "29460", 1),
    ("Loperhet", "29470", 1),
    ("Pencran", "29800", 1),
    ("Ploudiry", "29800", 1),
    ("Plouédern", "29800", 1),
    ("Saint-Divy", "29800", 1),
    ("Saint-Eloy", "29460", 1),
    ("Saint-Thonan", "29800", 1),
    ("Saint-Urbain", "29800", 1),
    ("Tréflévénez", "29800", 1),
    ("Trémaouézan", "29800", 1),
    # Presqu'île de Crozon - Aulne maritime
    ("Crozon", "29160", 2),
    ("Argol", "29560", 1),
    ("Camaret-sur-Mer", "29570", 1),
    ("Landévennec", "29560", 1),
    ("Lanvéoc", "29160", 1),
    ("Le Faou", "29590", 1),
    ("Pont-de-Buis-lès-Quimerch", "29590", 1),
    ("Roscanvel", "29570", 1),
    ("Rosnoën", "29590", 1),
    ("Telgruc-sur-Mer", "29560", 1),
    # Pleyben - Châteaulin - Porzay
    ("Châteaulin", "29150", 2),
    ("Cast", "29150", 1),
    ("Dinéault", "29150", 1),
    ("Gouézec", "29190", 1),
    ("Lannédern", "29190", 1),
    ("Le Cloître-Pleyben", "29190", 1),
    ("Lennon", "29190", 1),
    ("Lothey", "29190", 1),
    ("Pleyben", "29190", 1),
    ("Ploéven", "29550", 1),
    ("Plomodiern", "29550", 1),
    ("Port-Launay", "29150", 1),
    ("Saint-Coulitz", "29150", 1),
    ("Saint-Nic", "29550", 1),
    ("Saint-Ségal", "29590", 1),
    ("Trégarvan", "29560", 1),
]

#: Neighbourhood places of Brest (the other communes use the typologies below).
BREST_PLACES = [
    "EPN Brest Bellevue",
    "Centre social de Kerourien",
    "Maison de quartier de Lambézellec",
    "Médiathèque des Capucins",
    "Espace numérique de Pen ar Créac'h",
    "Centre social Horizons (Pontanézen)",
    "Maison de quartier du Bourg de Saint-Pierre",
    "Patronage laïque de la Cavale Blanche",
    "Maison France Services de Brest Europe",
]

#: Place typologies outside Brest: name pattern and the LaMednum services it offers.
TYPOLOGIES = [
    ("Médiathèque de {c}", ["Loisirs et créations numériques", "Accès internet et matériel informatique"]),
    ("Espace public numérique de {c}", ["Maîtrise des outils numériques du quotidien", "Accès internet et matériel informatique"]),
    ("Mairie de {c} - point numérique", ["Aide aux démarches administratives"]),
    ("Centre social de {c}", ["Parentalité et éducation avec le numérique", "Maîtrise des outils numériques du quotidien"]),
    ("France Services {c}", ["Aide aux démarches administratives", "Insertion professionnelle via le numérique"]),
    ("Cyber-base de {c}", ["Maîtrise des outils numériques du quotidien", "Utilisation sécurisée du numérique"]),
    ("Tiers-lieu numérique de {c}", ["Loisirs et créations numériques", "Compréhension du monde numérique"]),
    ("Association {c} Numérique", ["Maîtrise des outils numériques du quotidien", "Acquisition de matériel informatique à prix solidaire"]),
    ("Bibliothèque de {c}", ["Accès internet et matériel informatique"]),
]  # fmt: skip

PRESENTATIONS = [
    "Accès libre aux ordinateurs, impressions et accompagnement sur rendez-vous.",
    "Un animateur vous accompagne pour vos démarches et vos premiers pas sur internet.",
    "Ateliers collectifs toute l'année et prêt de matériel aux associations de la commune.",
    "Lieu ouvert à tous, gratuit, avec wifi et postes en libre-service.",
    "Espace multimédia : ateliers, permanences et matériel à emprunter.",
]


@dataclass(frozen=True)
class Template:
    """One kind of offer: its concepts, theme or category, and ways of writing it."""

    concepts: tuple[str, ...]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    theme: str = ""  # skill theme, or equipment category
    weight: float = 1.0
    brands: tuple[str, ...] = ()


def T(concepts: str, theme: str, titles: list[str], descriptions: list[str], weight: float = 1.0,
      brands: list[str] | None = None) -> Template:  # fmt: skip
    return Template(
        tuple(concepts.split()), tuple(titles), tuple(descriptions), theme, weight,
        tuple(brands or ()),
    )  # fmt: skip


SKILLS = [
    # Prendre en main du matériel
    T("smartphone", "Prendre en main du matériel", [
        "Prendre en main son smartphone", "Débuter avec un smartphone Android",
        "Mon téléphone portable au quotidien", "Utiliser son iPhone", "Smartphone : les premiers pas",
        "Bien utiliser son téléphone", "Smartphone pour les seniors"], [
        "Allumer, déverrouiller, appeler, envoyer un SMS, installer une application depuis le Play Store.",
        "Réglages de base, contacts, appareil photo du téléphone et partage des photos avec ses proches.",
        "Pour les personnes qui viennent d'avoir leur premier téléphone tactile."], 3.0),
    T("tablette", "Prendre en main du matériel", [
        "Découvrir la tablette", "Prendre en main une tablette tactile", "Tablette Android pour débuter",
        "iPad : les bases", "Ma tablette au quotidien"], [
        "Gestes tactiles, applications, lecture de la presse et appels vidéo avec la famille.",
        "Venez avec votre tablette ou utilisez une des nôtres."], 2.0),
    T("ordinateur", "Prendre en main du matériel", [
        "Premiers pas sur l'ordinateur", "Initiation à l'informatique", "Découvrir Windows 11",
        "Clavier, souris et fenêtres : les bases du PC", "Ranger ses fichiers et ses dossiers",
        "L'ordinateur pour les grands débutants"], [
        "Allumer l'ordinateur, utiliser la souris et le clavier, ouvrir et enregistrer un fichier.",
        "Organiser ses documents dans des dossiers, clé USB et corbeille."], 3.0),
    T("ordinateur achat", "Prendre en main du matériel", [
        "Bien choisir son ordinateur", "Acheter un ordinateur reconditionné",
        "Quel matériel informatique acheter ?"], [
        "Portable ou fixe, neuf ou reconditionné : nos conseils avant l'achat.",
        "Comparer les offres, comprendre les caractéristiques, éviter les mauvaises surprises."]),
    T("imprimante", "Prendre en main du matériel", [
        "Installer et utiliser son imprimante", "Scanner et imprimer ses documents",
        "Imprimer depuis son téléphone"], [
        "Installer le pilote, imprimer en recto verso, numériser une pièce justificative."]),
    # Navigation sur internet
    T("internet navigateur", "Navigation sur internet", [
        "Naviguer sur internet", "Faire une recherche sur internet",
        "Utiliser un navigateur web (Firefox, Chrome)", "Favoris, onglets et historique",
        "Internet : les premiers pas"], [
        "Ouvrir un site, faire une recherche efficace, reconnaître une publicité.",
        "Comprendre les adresses web, les onglets et les téléchargements."], 2.0),
    T("demarches", "Navigation sur internet", [
        "Démarches administratives en ligne", "Accompagnement aux démarches en ligne",
        "Créer son compte FranceConnect", "ANTS : carte grise et pièces d'identité en ligne",
        "Aide aux démarches sur internet"], [
        "Accompagnement individuel sur rendez-vous : apportez vos identifiants et vos papiers.",
        "Nous vous aidons à remplir les formulaires en ligne et à suivre vos dossiers."], 3.0),
    T("demarches impots", "Navigation sur internet", [
        "Déclarer ses impôts en ligne", "Impots.gouv : déclaration de revenus",
        "Aide à la déclaration de revenus", "Espace particulier des impôts"], [
        "Créer son espace particulier, déclarer ses revenus, payer en ligne.",
        "Pendant la campagne de déclaration, sur rendez-vous."], 1.5),
    T("demarches caf", "Navigation sur internet", [
        "Mon compte CAF en ligne", "Demande de prime d'activité sur caf.fr",
        "Allocations familiales : démarches sur le site de la CAF"], [
        "Déclaration trimestrielle, attestation de paiement, simulation des droits."]),
    T("demarches retraite", "Navigation sur internet", [
        "Demander sa retraite en ligne", "Info Retraite : créer son compte",
        "Préparer son départ en retraite sur internet"], [
        "Relevé de carrière, demande unique de retraite, suivi du dossier."]),
    # Courriels
    T("courriel", "Courriels", [
        "Créer une adresse mail", "Envoyer et recevoir des courriels", "Gérer sa boîte mail",
        "La messagerie électronique : bien démarrer",
        "Pièces jointes : envoyer un document par e-mail", "Trier ses mails et éviter les spams",
        "Courrier électronique pour débutants"], [
        "Créer son adresse, écrire un message, répondre, joindre une photo ou un document.",
        "Organiser sa messagerie, bloquer les indésirables, retrouver un ancien message."], 3.0),
    # Bureautique
    T("bureautique traitement_texte", "Bureautique", [
        "Traitement de texte : écrire une lettre", "Initiation à LibreOffice Writer",
        "Word : mise en page d'un document"], [
        "Saisir, mettre en forme et imprimer un courrier, enregistrer en PDF."]),
    T("bureautique tableur", "Bureautique", [
        "Tableur : faire son budget", "Initiation à Excel", "LibreOffice Calc pour débuter"], [
        "Cellules, formules simples et graphiques pour suivre ses dépenses."]),
    T("bureautique diaporama", "Bureautique", [
        "Créer un diaporama", "Présentation avec Impress ou PowerPoint"], [
        "Des diapositives claires pour une réunion d'association ou un exposé."], 0.6),
    # Réseaux sociaux
    T("reseaux_sociaux", "Réseaux sociaux", [
        "Découvrir Facebook", "Réseaux sociaux : paramétrer sa confidentialité",
        "WhatsApp pour garder le contact", "Instagram : partager ses photos",
        "Les réseaux sociaux sans se mettre en danger"], [
        "Créer un compte, choisir qui voit ses publications, signaler un contenu.",
        "Groupes familiaux, appels vidéo et partage de photos."], 2.0),
    # Santé
    T("sante", "Santé", [
        "Mon espace santé : ouvrir son compte", "Prendre rendez-vous sur Doctolib",
        "Compte Ameli : les démarches", "Téléconsultation : comment ça marche",
        "La santé en ligne"], [
        "Télécharger une attestation de droits, suivre ses remboursements, ouvrir son dossier.",
        "Préparer une téléconsultation avec son médecin : matériel, connexion, confidentialité."], 2.0),
    # Banque et achats en ligne
    T("banque", "Banque et achats en ligne", [
        "Consulter ses comptes en ligne", "Application bancaire et sécurité des paiements",
        "La banque sur internet"], [
        "Se connecter à sa banque, faire un virement, valider un paiement sur son téléphone."]),
    T("achats", "Banque et achats en ligne", [
        "Acheter en ligne en toute sécurité", "Vendre sur Leboncoin", "Vinted : vendre ses vêtements",
        "Faire ses courses sur internet"], [
        "Repérer un site fiable, payer sans risque, suivre une livraison, retourner un article."]),
    # Entrepreneuriat
    T("site_web", "Entrepreneuriat", [
        "Créer le site web de son association", "Créer un site internet avec WordPress",
        "Un site vitrine pour son activité"], [
        "Nom de domaine, hébergement, pages et mises à jour : de quoi démarrer seul."]),
    T("entreprise", "Entrepreneuriat", [
        "Micro-entrepreneur : les démarches en ligne",
        "Communiquer sur les réseaux pour son activité",
        "Facturation et outils en ligne pour indépendants"], [
        "Déclarer son chiffre d'affaires, faire ses factures, se faire connaître localement."], 0.8),
    # Insertion professionnelle
    T("cv emploi", "Insertion professionnelle", [
        "Rédiger son CV", "CV et lettre de motivation", "Créer son CV en ligne",
        "Mettre à jour son curriculum vitae"], [
        "Un CV clair et à jour, une lettre de motivation adaptée à chaque offre.",
        "Apportez vos diplômes et vos expériences, nous repartons d'un modèle."], 2.0),
    T("emploi", "Insertion professionnelle", [
        "Recherche d'emploi sur internet", "Espace France Travail (ex-Pôle emploi)",
        "Préparer un entretien d'embauche en visio", "Candidater en ligne"], [
        "S'inscrire, actualiser sa situation, répondre aux offres et suivre ses candidatures."], 2.0),
    # Sécurité numérique
    T("securite arnaques", "Sécurité numérique", [
        "Repérer les arnaques en ligne", "Hameçonnage : reconnaître les faux messages",
        "Arnaques par SMS et faux colis", "Se protéger des escroqueries sur internet"], [
        "Faux conseillers bancaires, faux sites administratifs, messages urgents : les bons réflexes.",
        "Que faire si l'on a donné ses coordonnées bancaires ?"], 2.0),
    T("securite mots_de_passe", "Sécurité numérique", [
        "Créer des mots de passe solides", "Utiliser un gestionnaire de mots de passe",
        "Double authentification : pourquoi et comment"], [
        "Un mot de passe différent pour chaque compte, sans avoir à les retenir tous."]),
    T("securite sauvegarde", "Sécurité numérique", [
        "Sauvegarder ses photos et ses documents", "Antivirus et mises à jour",
        "Protéger son ordinateur"], [
        "Disque dur externe, cloud, mises à jour du système : garder ses données à l'abri."]),
    # Parentalité
    T("parentalite", "Parentalité", [
        "Écrans et enfants : trouver le bon équilibre", "Contrôle parental sur les appareils",
        "Accompagner ses ados sur les réseaux sociaux", "Parents : les jeux vidéo de vos enfants"], [
        "Temps d'écran, âge des applications, dialogue en famille : un temps d'échange entre parents.",
        "Mettre en place le contrôle parental sur la box, la console et le téléphone."], 1.5),
    # Scolarité
    T("scolarite", "Scolarité", [
        "Pronote : suivre la scolarité de son enfant", "ENT du collège : mode d'emploi",
        "Parcoursup : accompagnement des lycéens", "Aide aux devoirs avec le numérique"], [
        "Notes, cahier de textes, messages des enseignants : s'y retrouver dans l'espace numérique."], 1.2),
    # Créer avec le numérique
    T("photo", "Créer avec le numérique", [
        "Retouche photo avec GIMP", "Classer et retoucher ses photos",
        "Photo numérique : bien cadrer", "Créer un album photo en ligne",
        "Transférer les photos de son téléphone"], [
        "Recadrer, corriger la lumière, trier et partager ses photos de famille.",
        "Apportez votre appareil ou votre téléphone avec vos photos."], 2.0),
    T("montage_video", "Créer avec le numérique", [
        "Montage vidéo avec Shotcut", "Réaliser un petit film avec son smartphone",
        "Montage vidéo : les bases"], [
        "Couper, assembler, ajouter une musique et des titres, exporter pour le partager."]),
    T("impression_3d", "Créer avec le numérique", [
        "Modélisation et impression 3D", "Découvrir l'impression 3D",
        "Tinkercad : dessiner un objet en 3D"], [
        "Dessiner une pièce, préparer le fichier et lancer l'impression sur nos machines."]),
    T("musique", "Créer avec le numérique", [
        "MAO : créer de la musique sur ordinateur", "Enregistrer un podcast",
        "Création sonore avec Audacity"], [
        "Enregistrer sa voix, monter des sons, publier un épisode."], 0.8),
    T("programmation", "Créer avec le numérique", [
        "Programmer avec Scratch", "Initiation au code", "Python pour les ados",
        "Créer son premier jeu vidéo"], [
        "Des blocs à assembler pour animer des personnages et créer des jeux."]),
    T("robotique programmation", "Créer avec le numérique", [
        "Robotique avec Thymio", "Programmer un robot mBot", "Arduino : premiers montages"], [
        "Capteurs, moteurs et petits programmes : les robots prennent vie."], 0.8),
    T("decoupe_vinyle", "Créer avec le numérique", [
        "Créer des stickers avec la découpeuse vinyle", "Flocage de tee-shirts"], [
        "Du dessin à l'autocollant, en passant par le logiciel de découpe."], 0.5),
    # Culture numérique
    T("linux logiciel_libre", "Culture numérique", [
        "Découvrir Linux", "Les logiciels libres au quotidien", "Passer à Linux Mint"], [
        "Des logiciels gratuits et libres pour remplacer ceux que vous payez."]),
    T("ia", "Culture numérique", [
        "Comprendre l'intelligence artificielle", "ChatGPT : usages et limites",
        "IA générative : ce qu'elle sait faire"], [
        "Ce que font ces outils, leurs erreurs, et comment s'en servir avec prudence."]),
    T("wikipedia cartographie", "Culture numérique", [
        "Contribuer à Wikipédia", "OpenStreetMap : cartographier sa commune"], [
        "Partager ses connaissances sur les encyclopédies et cartes collaboratives."], 0.6),
    T("information", "Culture numérique", [
        "Vérifier une information : les fausses nouvelles", "Éducation aux médias et à l'information"], [
        "Repérer une rumeur, trouver la source d'une image, croiser les informations."]),
]  # fmt: skip

EQUIPMENT = [
    T("videoprojecteur", "Vidéoprojection", [
        "Vidéoprojecteur {b}", "Vidéoprojecteur portable {b}", "Vidéo-projecteur {b}",
        "Videoprojecteur {b} HD", "Projecteur vidéo {b}"], [
        "Avec câble HDMI et télécommande. Prévoir une rallonge.",
        "Idéal pour les réunions et les projections en salle."], 3.0,
        ["Epson EB-W51", "BenQ MW560", "Optoma HD146X", "ViewSonic PA503W", "Acer X1228H"]),
    T("ecran_projection", "Vidéoprojection", [
        "Écran de projection sur trépied", "Écran de projection enroulable"], [
        "Toile de 2 m, se monte en deux minutes."], 0.8),
    T("appareil_photo", "Photo", [
        "Appareil photo numérique {b}", "Appareil photo reflex {b}", "Appareil photo compact {b}",
        "Appareil photo hybride {b}", "APN {b}"], [
        "Avec carte mémoire, chargeur et sacoche.",
        "Pour les reportages des associations et les ateliers photo."], 2.5,
        ["Canon EOS 2000D", "Nikon D3500", "Sony Alpha 6000", "Panasonic Lumix TZ70", "Fujifilm X-T30"]),
    T("camera", "Vidéo", [
        "Caméra {b}", "Caméscope {b}", "Caméra sport {b}"], [
        "Pour filmer les événements, avec trépied et batterie de rechange."], 1.2,
        ["Sony HDR-CX405", "Panasonic HC-V180", "GoPro Hero 9"]),
    T("webcam visio", "Vidéo", [
        "Webcam HD {b}", "Webcam avec micro {b}"], [
        "Se branche en USB, pour les appels vidéo et la téléconsultation."], 0.8,
        ["Logitech C920", "Logitech C270"]),
    T("ordinateur_portable ordinateur", "Informatique", [
        "Ordinateur portable {b}", "PC portable {b}", "Valise de 8 ordinateurs portables",
        "Ordinateur portable reconditionné {b}", "Portable {b} sous Linux"], [
        "Prêt pour les ateliers des associations, avec chargeurs et souris.",
        "Windows 11 et LibreOffice installés, réinitialisé après chaque prêt."], 3.0,
        ["Lenovo ThinkPad T480", "HP ProBook 450", "Dell Latitude 5490", "Asus VivoBook 15", "Acer Aspire 5"]),
    T("ordinateur_fixe ordinateur", "Informatique", [
        "Ordinateur fixe {b}", "Unité centrale reconditionnée {b}", "Poste informatique complet"], [
        "Écran, clavier et souris fournis. Don possible aux familles via l'association."], 0.8,
        ["Dell OptiPlex 7050", "HP EliteDesk 800"]),
    T("tablette", "Informatique", [
        "Tablette {b}", "Lot de 6 tablettes {b}", "Tablette tactile {b}", "Tablettes {b} (lot de 4)"], [
        "Avec housses et chargeurs, applications des ateliers installées.",
        "Pour les ateliers seniors et les animations en EHPAD."], 2.5,
        ["Samsung Galaxy Tab A8", "Lenovo Tab M10", "Apple iPad 9", "Android Samsung"]),
    T("smartphone", "Téléphonie", [
        "Smartphone de prêt {b}", "Téléphone portable {b} pour les ateliers",
        "Lot de smartphones Android {b}"], [
        "Pour s'entraîner aux applications sans risque pour son propre téléphone."], 1.2,
        ["Samsung Galaxy A14", "Xiaomi Redmi 12", "Fairphone 4"]),
    T("imprimante_3d impression_3d", "Fabrication", [
        "Imprimante 3D {b}", "Imprimante 3D {b} avec bobines de PLA"], [
        "Utilisation après une initiation. Fil PLA fourni pour les premiers essais."], 1.5,
        ["Prusa i3 MK3S", "Creality Ender 3", "Ultimaker 2+", "Bambu Lab A1 mini"]),
    T("imprimante", "Impression", [
        "Imprimante laser {b}", "Imprimante multifonction {b}", "Imprimante jet d'encre {b}"], [
        "Impression, copie et numérisation. Papier non fourni."], 1.0,
        ["Brother HL-L2350", "HP OfficeJet 8015", "Epson EcoTank ET-2810", "Canon Pixma TS5150"]),
    T("scanner", "Numérisation", [
        "Scanner à plat {b}", "Scanner de documents {b}", "Scanner de négatifs et diapositives"], [
        "Pour numériser papiers, photos anciennes et diapositives."], 0.8,
        ["Epson Perfection V39", "Canon CanoScan LiDE 300"]),
    T("casque_vr realite_virtuelle", "Réalité virtuelle", [
        "Casque de réalité virtuelle {b}", "Casque VR {b}", "Casque de réalité virtuelle autonome"], [
        "Pour les animations découverte, à partir de 13 ans.",
        "Avec manettes et applications de visite virtuelle."], 1.2,
        ["Meta Quest 2", "Meta Quest 3", "Pico 4", "HTC Vive"]),
    T("decoupe_vinyle", "Fabrication", [
        "Découpeuse vinyle {b}", "Plotter de découpe {b}"], [
        "Stickers, flocage textile, pochoirs. Vinyle à apporter."], 0.6,
        ["Silhouette Cameo 4", "Cricut Maker"]),
    T("brodeuse", "Fabrication", [
        "Brodeuse numérique {b}"], ["Broderie de logos et de prénoms sur textile."], 0.4,
        ["Brother Innov-is"]),
    T("robotique", "Robotique", [
        "Robots Thymio (lot de 6)", "Robot mBot", "Kit robotique Lego Mindstorms",
        "Robots Bee-Bot pour les petits"], [
        "Pour les ateliers de programmation avec les enfants et les ados."], 1.0),
    T("electronique programmation", "Électronique", [
        "Cartes micro:bit (lot de 10)", "Kit Arduino débutant", "Raspberry Pi 4 en kit"], [
        "Capteurs, LED et câbles fournis, avec les fiches d'activités."], 0.8),
    T("micro son", "Son", [
        "Micro USB {b}", "Micro-cravate sans fil", "Enregistreur audio {b}"], [
        "Pour les podcasts, les interviews et la webradio."], 0.9,
        ["Zoom H4n", "Rode NT-USB", "Blue Yeti"]),
    T("enceinte son", "Son", [
        "Enceinte Bluetooth {b}", "Sonorisation portable avec micro"], [
        "Autonomie de 10 heures, pour les animations en extérieur."], 0.8,
        ["JBL Charge 5", "Bose SoundLink"]),
    T("console jeux_video", "Jeux", [
        "Console Nintendo Switch", "Console PS4 et manettes", "Borne d'arcade"], [
        "Pour les tournois et les après-midis jeux en famille."], 0.8),
    T("ecran_interactif", "Image", [
        "Écran interactif {b}", "Tableau blanc interactif (TBI)", "Écran tactile 65 pouces"], [
        "Sur pied mobile, pour les présentations et les ateliers collectifs."], 0.6,
        ["Speechi", "Promethean ActivPanel"]),
    T("visio", "Visioconférence", [
        "Kit de visioconférence {b}", "Caméra de visioconférence 360°", "Barre de visioconférence {b}"], [
        "Caméra, micro et haut-parleur pour les réunions à distance."], 0.8,
        ["Logitech MeetUp", "Jabra PanaCast"]),
    T("connexion", "Connexion", [
        "Clé 4G de prêt", "Routeur wifi 4G", "Borne wifi mobile"], [
        "Pour se connecter à internet là où il n'y a pas de box."], 0.7),
    T("stockage", "Informatique", [
        "Disque dur externe 1 To", "Lot de clés USB", "Disque dur SSD externe"], [
        "Pour les sauvegardes et les transferts de fichiers."], 0.6),
    T("drone", "Image", [
        "Drone {b}"], ["Prises de vue aériennes, pilote formé obligatoire."], 0.3,
        ["DJI Mini 2", "DJI Mini 3"]),
    T("tablette_graphique", "Image", [
        "Tablette graphique {b}"], ["Dessin numérique et retouche photo au stylet."], 0.5,
        ["Wacom Intuos", "XP-Pen Deco"]),
    T("liseuse", "Lecture", [
        "Liseuse {b}", "Liseuses (lot de 5)"], ["Avec une sélection de livres numériques."], 0.6,
        ["Kobo Clara", "Kindle Paperwhite"]),
    T("reparation", "Outillage", [
        "Kit de réparation électronique (fer à souder)", "Outils de réparation de smartphones"], [
        "Pour les repair cafés : tournevis de précision, fer à souder, multimètre."], 0.5),
]  # fmt: skip

EVENTS = [
    T("smartphone initiation", "", [
        "Atelier initiation smartphone", "Atelier smartphone pour les seniors",
        "Smartphone : atelier découverte", "Atelier « Mon téléphone et moi »"], [
        "Venez avec votre téléphone : réglages, applications, photos.",
        "Atelier en petit groupe, sur inscription."], 3.0),
    T("tablette initiation", "", [
        "Atelier tablette", "Initiation tablette pour les aînés", "Tablette : atelier découverte"], [
        "Tablettes prêtées pendant l'atelier.", "Atelier en petit groupe, sur inscription."], 1.5),
    T("ordinateur initiation", "", [
        "Atelier découverte de l'ordinateur", "Initiation informatique débutants",
        "Les bases de l'informatique en 4 séances"], [
        "Souris, clavier, fichiers : pour celles et ceux qui n'ont jamais osé."], 2.0),
    T("cafe_numerique", "", [
        "Café numérique", "Café numérique : vos questions", "Café connecté"], [
        "Un moment convivial pour poser toutes vos questions sur le numérique."], 1.5),
    T("permanence demarches", "", [
        "Permanence numérique", "Permanence d'aide aux démarches en ligne",
        "Permanence France Services"], [
        "Sans rendez-vous, apportez vos identifiants et vos documents."], 2.0),
    T("reparation", "", [
        "Repair café informatique", "Atelier réparation d'ordinateurs"], [
        "Apportez votre ordinateur ou votre téléphone en panne, on cherche ensemble."], 0.8),
    T("linux logiciel_libre", "", [
        "Install party Linux", "Journée des logiciels libres"], [
        "Venez avec votre ordinateur, on installe Linux ensemble."], 0.6),
    T("securite arnaques", "", [
        "Conférence : les arnaques en ligne", "Café numérique : se protéger des arnaques",
        "Atelier : déjouer les escroqueries sur internet"], [
        "Faux SMS, faux sites, faux conseillers : les pièges et les réflexes."], 1.2),
    T("photo", "", [
        "Atelier retouche photo", "Balade photo numérique", "Atelier photo"], [
        "Apportez votre appareil photo ou votre téléphone."], 1.0),
    T("photo smartphone", "", [
        "Atelier photo avec son smartphone"], ["Cadrage, lumière et retouche sur le téléphone."], 0.6),
    T("impression_3d", "", [
        "Initiation à l'impression 3D", "Fablab ouvert : impression 3D"], [
        "Découverte des imprimantes 3D et de la modélisation."], 0.8),
    T("realite_virtuelle", "", [
        "Découverte de la réalité virtuelle", "Après-midi casques VR"], [
        "Essayez les casques et visitez des lieux du monde entier."], 0.6),
    T("robotique programmation", "", [
        "Atelier robotique pour les enfants", "Coding goûter", "Fête de la science : robots et code"], [
        "Pour les 8-12 ans, sur inscription."], 0.9),
    T("parentalite", "", [
        "Soirée parents : les écrans à la maison", "Conférence : enfants et écrans"], [
        "Échanges entre parents animés par une médiatrice numérique."], 0.8),
    T("cv emploi", "", [
        "Atelier CV", "Atelier recherche d'emploi en ligne"], [
        "Apportez une clé USB avec votre CV si vous en avez un."], 1.0),
    T("courriel", "", [
        "Atelier courriels", "Atelier : créer sa boîte mail"], [
        "Créer son adresse et envoyer ses premiers messages."], 1.0),
    T("visio", "", [
        "Visio avec la famille : prise en main", "Atelier visioconférence"], [
        "Appeler ses proches en vidéo avec WhatsApp, Zoom ou Teams."], 0.7),
    T("sante", "", [
        "Atelier Mon espace santé", "Atelier Doctolib et Ameli"], [
        "Ouvrir son espace, prendre rendez-vous, suivre ses remboursements."], 0.7),
    T("demarches impots", "", [
        "Aide à la déclaration d'impôts en ligne"], ["Sur rendez-vous pendant la campagne."], 0.5),
    T("jeux_video", "", [
        "Tournoi de jeux vidéo", "Après-midi jeux vidéo en famille"], [
        "Ouvert à tous, consoles fournies."], 0.6),
    T("ia", "", [
        "Conférence : l'intelligence artificielle au quotidien"], [
        "Comprendre ChatGPT et les autres outils d'IA."], 0.5),
    T("formation securite", "", [
        "Formation animateurs : sécurité numérique"], [
        "Journée de formation entre animateurs du réseau."], 0.3),
    T("montage_video", "", [
        "Atelier montage vidéo"], ["Du tournage au montage, en une après-midi."], 0.4),
    T("decoupe_vinyle", "", [
        "Atelier stickers à la découpeuse vinyle"], ["Repartez avec vos créations."], 0.3),
]  # fmt: skip

LEVELS = ["Débutant", "Intermédiaire", "Avancé"]
EVENT_ROOMS = ["Salle polyvalente", "Médiathèque", "Espace numérique", "Salle du conseil",
               "Maison des associations"]  # fmt: skip
#: Sentences added to descriptions, by kind ("" leaves the description as it is).
GENERIC = {
    "skill": ["Sur rendez-vous.", "En petit groupe.", "Tous les mardis matin.",
              "Renseignements à l'accueil.", "", ""],
    "equipment": ["Prêt gratuit aux associations de la commune.", "Caution demandée.",
                  "Réservation par téléphone.", "", ""],
    "event": ["Gratuit, sur inscription.", "Ouvert à tous.", "Places limitées.",
              "Accessible aux personnes à mobilité réduite.", "", ""],
}  # fmt: skip
CONDITIONS = ["Bon état", "Très bon état", "Neuf", "Révisé cette année"]
LOANS = ["Prêt d'une semaine, retrait sur place.", "Réservé aux associations et aux écoles.",
         "Prêt le week-end, caution de 100 euros.", "Réservé aux animateurs du réseau."]  # fmt: skip


@dataclass
class CorpusObject:
    """One offer of the corpus and what it is about."""

    key: str  # "<place index>/<oid>"
    kind: str
    payload: dict[str, Any]
    concepts: frozenset[str]
    commune: str
    place: int


@dataclass
class Place:
    index: int
    name: str
    commune: str
    payload: dict[str, Any]
    objects: list[CorpusObject] = field(default_factory=list)


def _pick(rng: random.Random, templates: list[Template], count: int) -> list[Template]:
    """``count`` distinct templates, the frequent kinds of offer more often."""
    chosen: list[Template] = []
    pool = list(templates)
    for _ in range(min(count, len(pool))):
        template = rng.choices(pool, [t.weight for t in pool])[0]
        pool.remove(template)
        chosen.append(template)
    return chosen


def _offer(rng: random.Random, template: Template, kind: str) -> tuple[str, str]:
    title = rng.choice(template.titles)
    if "{b}" in title:
        title = title.replace("{b}", rng.choice(template.brands))
    description = " ".join(
        part for part in (rng.choice(template.descriptions), rng.choice(GENERIC[kind])) if part
    )
    return title, description


def _article(name: str) -> str:
    """French contractions: "Mairie du Relecq-Kerhuon", "Médiathèque de l'Île-Molène"."""
    return name.replace(" de Le ", " du ").replace(" de Île-", " de l'Île-")


def _place_names() -> list[tuple[str, str, str, list[str]]]:
    """(name, commune, postal code, services) of every place, in a fixed order."""
    rng = random.Random(SEED)
    names = []
    for commune, postal, count in COMMUNES:
        if commune == "Brest":
            services = ["Aide aux démarches administratives", "Loisirs et créations numériques"]
            names.extend((name, commune, postal, services) for name in BREST_PLACES[:count])
            continue
        for pattern, services in rng.sample(TYPOLOGIES, count):
            names.append((_article(pattern.format(c=commune)), commune, postal, services))
    return names


def build(now: datetime | None = None) -> list[Place]:
    """The corpus: every place with its offers. Deterministic but for event dates."""
    now = (now or datetime.now(PARIS)).astimezone(PARIS)
    rng = random.Random(SEED)
    places = []
    for index, (name, commune, postal, services) in enumerate(_place_names()):
        payload: dict[str, Any] = {
            "nom": name,
            "commune": commune,
            "code_postal": postal,
            "presentation_resume": rng.choice(PRESENTATIONS),
            "services": services,
        }
        place = Place(index, name, commune, payload)
        counts = {"skill": rng.randint(4, 10), "equipment": rng.randint(3, 9)}
        counts["event"] = rng.randint(2, 7)
        serial = 0
        for kind, templates in (("skill", SKILLS), ("equipment", EQUIPMENT), ("event", EVENTS)):
            for template in _pick(rng, templates, counts[kind]):
                serial += 1
                title, description = _offer(rng, template, kind)
                body: dict[str, Any] = {"title": title}
                if description:
                    body["description"] = description
                if kind == "skill":
                    body["theme"] = template.theme
                    body["level"] = rng.choice(LEVELS)
                elif kind == "equipment":
                    body["category"] = template.theme
                    body["quantity"] = rng.randint(1, 4)
                    if rng.random() < 0.5:
                        body["condition"] = rng.choice(CONDITIONS)
                    if rng.random() < 0.5:
                        body["loan_conditions"] = rng.choice(LOANS)
                else:
                    start = (now + timedelta(days=rng.randint(1, 120))).replace(
                        hour=rng.choice([9, 10, 14, 15, 18]), minute=0, second=0, microsecond=0
                    )
                    body["start"] = start.isoformat()
                    body["end"] = (start + timedelta(hours=2)).isoformat()
                    body["location"] = f"{rng.choice(EVENT_ROOMS)}, {commune}"
                    body["audience"] = (
                        "animateurs" if "formation" in template.concepts else "public"
                    )
                    body["capacity"] = rng.choice([6, 8, 10, 12, 20])
                place.objects.append(
                    CorpusObject(
                        key=f"{index}/o{serial}",
                        kind=kind,
                        payload=body,
                        concepts=frozenset(template.concepts),
                        commune=commune,
                        place=index,
                    )
                )
        places.append(place)
    return places


def objects(places: list[Place]) -> list[CorpusObject]:
    return [item for place in places for item in place.objects]
