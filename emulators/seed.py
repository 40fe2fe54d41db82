"""A deterministic world of users, studies, people, activities and calls for both stand-ins."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["World", "build_world", "ORGS", "CTMS_CREDENTIALS", "CRM_CREDENTIALS", "vault_id", "sf_id"]

ORGS = ("us", "eu")
CTMS_CREDENTIALS = {"username": "integration@ctms.example.com", "password": "ctms-demo-password"}
CRM_CREDENTIALS = {
    "client_id": "ccgw-demo-client",
    "client_secret": "ccgw-demo-secret",
    "username": "integration@crm.example.com",
    "password": "crm-demo-password",
}
# The one-character "instance" in generated Salesforce ids keeps ids distinct across orgs, as real pods do.
ORG_INSTANCE = {"us": "U", "eu": "E"}

FIRST = ["Aiko", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya", "Luca",
         "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Viktor", "Wen", "Yara", "Zoe"]
LAST = ["Abe", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ito", "Jensen", "Kowalski",
        "Lindqvist", "Moreau", "Novak", "O'Brien", "Petrov", "Quist", "Rossi", "Sato", "Tanaka", "Uddin", "Varga",
        "Weber", "Yilmaz", "Zimmermann"]
COUNTRIES = ["United States", "Germany", "Japan", "France", "Spain", "Canada", "Italy", "Sweden"]
ROLES = ["Principal Investigator", "Sub-Investigator", "Study Coordinator", "Pharmacist", "Research Nurse"]
TOPICS = ["Protocol amendment", "Enrollment update", "Site initiation", "Safety follow-up", "Monitoring visit",
          "Scientific exchange", "Publication discussion", "Advisory board", "Data query", "Training"]
VAULT_CHANNELS = ["in_person__v", "video__v", "phone__v", "chat_text__v", "email__v", "other__v"]
CRM_CHANNELS = ["Face_to_face_vod", "Video_vod", "Phone_vod", "Message_vod", "Email_vod", "Other_vod"]


def vault_id(prefix: str, n: int) -> str:
    """A 15-character Vault-style record id: a 3-character object prefix and a counter."""
    return f"{prefix}{n:012d}"


def sf_id(prefix: str, instance: str, n: int) -> str:
    """An 18-character Salesforce-style id: key prefix, instance, counter, and a fixed case-safe suffix."""
    return f"{prefix}0{instance}{n:09d}AAAA"


@dataclass
class World:
    """Records per object, in each backend's own field names, ready for the stand-ins to load."""

    today: date
    ctms: dict[str, list[dict]] = field(default_factory=dict)
    crm: dict[str, dict[str, list[dict]]] = field(default_factory=dict)


def _ts(d: date) -> str:
    return f"{d.isoformat()}T09:00:00.000Z"


def build_world(people: int = 40, seed: int = 7, today: date | None = None) -> World:
    """Build the same world for the same arguments; `today` anchors past and future dates."""
    rnd = random.Random(seed)
    today = today or date.today()
    world = World(today=today)
    ctms: dict[str, list[dict]] = {k: [] for k in (
        "user__sys", "person__sys", "study__v", "study_country__v", "site__v", "study_person__clin",
        "crm_activity__v")}
    world.ctms = ctms
    created = _ts(today - timedelta(days=400))

    def base(obj_id: str, name: str, user: str = "1000001") -> dict:
        return {"id": obj_id, "name__v": name, "status__v": ["active__v"], "created_date__v": created,
                "modified_date__v": created, "created_by__v": user, "modified_by__v": user}

    users = [("Integration", "User", CTMS_CREDENTIALS["username"])] + [
        (f, ln, f"{f.lower()}.{ln.lower()}@ctms.example.com".replace("'", "")) for f, ln in
        [("Clara", "Oswald"), ("Martin", "Keller"), ("Sofia", "Lindgren"), ("Amir", "Haddad")]]
    for i, (f, ln, email) in enumerate(users):
        rec = base(str(1000001 + i), f"{f} {ln}")
        rec.update(first_name__sys=f, last_name__sys=ln, email__sys=email, username__sys=email)
        ctms["user__sys"].append(rec)

    studies = max(3, people // 40)
    n = 0
    for s in range(studies):
        sid = vault_id("0ST", s + 1)
        rec = base(sid, f"CCG-{101 + s:03d} {rnd.choice(['Oncology', 'Cardiology', 'Neurology', 'Immunology'])}")
        rec["study_number__v"] = f"CCG-{101 + s:03d}"
        ctms["study__v"].append(rec)
        for c in rnd.sample(COUNTRIES, 2 + s % 2):
            n += 1
            cid = vault_id("0SC", n)
            rec = base(cid, f"{ctms['study__v'][-1]['study_number__v']} {c}")
            rec.update(study__v=sid, country__v=c)
            ctms["study_country__v"].append(rec)
            for _ in range(2 + n % 3):
                site_no = len(ctms["site__v"]) + 1
                rec = base(vault_id("0SI", site_no), f"Site {1000 + site_no} ({c})")
                rec.update(study__v=sid, study_country__v=cid, site_number__v=str(1000 + site_no))
                ctms["site__v"].append(rec)

    sites = ctms["site__v"]
    for p in range(people):
        f, ln = FIRST[p % len(FIRST)], LAST[(p * 7 + p // len(FIRST)) % len(LAST)]
        pid = vault_id("0PE", p + 1)
        rec = base(pid, f"{f} {ln}")
        email = f"{f.lower()}.{ln.lower()}{p + 1}@hospital.example.org".replace("'", "")
        rec.update(first_name__sys=f, last_name__sys=ln, email__sys=email,
                   external_id__v=f"EXT-{p + 1:06d}", npi_number__c=f"{1000000000 + p * 7919:010d}")
        ctms["person__sys"].append(rec)
        for r in range(1 + p % 2):
            site = sites[(p * 3 + r * 5) % len(sites)]
            sp = base(vault_id("0SP", len(ctms["study_person__clin"]) + 1), f"{f} {ln} - {ROLES[(p + r) % 5]}")
            sp.update(person__clin=pid, study__clin=site["study__v"], study_country__clin=site["study_country__v"],
                      site__clin=site["id"], team_role__v=ROLES[(p + r) % len(ROLES)],
                      start_date__clin=(today - timedelta(days=300 + p % 50)).isoformat(), end_date__clin=None)
            ctms["study_person__clin"].append(sp)

    roles_of: dict[str, list[dict]] = {}
    for sp in ctms["study_person__clin"]:
        roles_of.setdefault(sp["person__clin"], []).append(sp)
    ctms_users = ctms["user__sys"][1:]
    for person in ctms["person__sys"]:
        for _ in range(rnd.randint(1, 6)):
            sp = rnd.choice(roles_of[person["id"]])
            context = rnd.choice([("study__v", sp["study__clin"]), ("study_country__v", sp["study_country__clin"]),
                                  ("site__v", sp["site__clin"]), ("study_person__v", sp["id"])])
            day = today + timedelta(days=rnd.randint(-180, 60))
            user = rnd.choice(ctms_users)
            no = len(ctms["crm_activity__v"]) + 1
            rec = base(vault_id("0AC", no), f"ACT-{no:06d}", user["id"])
            rec.update({"object_type__v": "clinical_activity__v", "person__v": person["id"],
                        "study__v": None, "study_country__v": None, "site__v": None, "study_person__v": None,
                        context[0]: context[1], "activity_date__v": day.isoformat(),
                        "channel__v": [rnd.choice(VAULT_CHANNELS)],
                        "completed__v": day <= today and rnd.random() < 0.8,
                        "subject__v": rnd.choice(TOPICS),
                        "owner__v": f"{user['first_name__sys']} {user['last_name__sys']} ({user['email__sys']})",
                        "crm_org__v": None, "crm_call_id__v": None, "crm_call_key__v": None,
                        "gateway_request__v": None})
            rec["created_date__v"] = rec["modified_date__v"] = _ts(min(day, today) - timedelta(days=1))
            ctms["crm_activity__v"].append(rec)

    for org in ORGS:
        world.crm[org] = _build_org(org, ctms["person__sys"], rnd, today)
    return world


def _build_org(org: str, persons: list[dict], rnd: random.Random, today: date) -> dict[str, list[dict]]:
    inst = ORG_INSTANCE[org]
    objs: dict[str, list[dict]] = {k: [] for k in (
        "User", "Account", "Call2_vod__c", "Vault_Clinical_Interaction_vod__c", "Clinical_Study_vod__c",
        "Clinical_Site_vod__c")}
    stamp = f"{(today - timedelta(days=400)).isoformat()}T09:00:00.000+0000"
    admin = sf_id("005", inst, 1)

    def base(obj_id: str, name: str, user: str = admin) -> dict:
        return {"Id": obj_id, "Name": name, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp,
                "CreatedById": user, "LastModifiedById": user, "OwnerId": user, "IsDeleted": False}

    reps = [("Integration", "User", CRM_CREDENTIALS["username"])] + [
        (f, ln, f"{f.lower()}.{ln.lower()}@{org}.crm.example.com") for f, ln in
        ([("Noah", "Fischer"), ("Priya", "Raman"), ("Lena", "Vogel")] if org == "us" else
         [("Hugo", "Marchand"), ("Ingrid", "Berg"), ("Paolo", "Conti")])]
    for i, (f, ln, email) in enumerate(reps):
        rec = base(sf_id("005", inst, i + 1), f"{f} {ln}")
        rec.update(FirstName=f, LastName=ln, Email=email, Username=email)
        objs["User"].append(rec)

    field = "External_ID_vod__c" if org == "us" else "NPI_Number__c"
    source = "external_id__v" if org == "us" else "npi_number__c"
    for idx, person in enumerate(persons):
        if org == "eu" and idx == 0:
            continue  # NO_MATCH: the first person has no account in eu
        copies = 2 if (org == "us" and idx == 1) else 1  # CONFLICT: two accounts share one identifier in us
        for _ in range(copies):
            n = len(objs["Account"]) + 1
            rec = base(sf_id("001", inst, n), f"{person['first_name__sys']} {person['last_name__sys']}")
            rec.update(FirstName=person["first_name__sys"], LastName=person["last_name__sys"],
                       PersonEmail=person["email__sys"], External_ID_vod__c=None, NPI_Number__c=None)
            rec[field] = person[source]
            objs["Account"].append(rec)

    users = objs["User"][1:]
    for account in objs["Account"]:
        for _ in range(rnd.randint(0, 4)):
            day = today + timedelta(days=rnd.randint(-150, 45))
            status = rnd.choice(["Submitted_vod", "Saved_vod"]) if day <= today else "Planned_vod"
            user = rnd.choice(users)
            n = len(objs["Call2_vod__c"]) + 1
            rec = base(sf_id("a0C", inst, n), f"C-{n:07d}", user["Id"])
            rec.update(Account_vod__c=account["Id"], Call_Date_vod__c=day.isoformat(),
                       Call_Datetime_vod__c=f"{day.isoformat()}T14:00:00.000+0000", Status_vod__c=status,
                       Call_Channel_vod__c=rnd.choice(CRM_CHANNELS), Subject_vod__c=rnd.choice(TOPICS),
                       Send_To_Vault_Clinical_vod__c=rnd.random() < 0.5, Gateway_Request_Id__c=None)
            objs["Call2_vod__c"].append(rec)
    return objs
