"""A deterministic world of users, studies, people, activities and calls for both stand-ins."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["World", "build_world", "ORGS", "CTMS_CREDENTIALS", "CRM_CREDENTIALS", "JwtKeyPair", "crm_jwt_keys",
           "vault_id", "sf_id"]

ORGS = ("us", "eu")
CTMS_CREDENTIALS = {"username": "integration@ctms.example.com", "password": "ctms-demo-password"}
CRM_CREDENTIALS = {
    "client_id": "ccgw-demo-client",
    "client_secret": "ccgw-demo-secret",
    "username": "integration@crm.example.com",
    "password": "crm-demo-password",
}


@dataclass(frozen=True)
class JwtKeyPair:
    """The demo connected app's key pair for the OAuth 2.0 JWT bearer flow: the certificate the orgs hold (PEM)
    and the private key that signs assertions (PEM, PKCS #8)."""

    certificate: str
    private_key: str


@functools.cache
def crm_jwt_keys() -> JwtKeyPair:
    """The demo key pair, made once per process at first use and never written anywhere: every org stand-in of
    the process holds its certificate (the seed credentials of the demo connected app), and the demo and the tests
    sign with its private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CRM_CREDENTIALS["client_id"])])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    return JwtKeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(),
                      key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode())


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
    world = World(today=today, ctms=_VaultSeed(rnd, today).build(people))
    for org in ORGS:
        world.crm[org] = _OrgSeed(org, rnd, today).build(world.ctms["person__sys"])
    return world


# Both seeders draw from one random stream, in a fixed order: reordering any draw changes every record after it.

class _VaultSeed:
    """The CTMS records: users, studies with their countries and sites, people with their roles, activities."""

    OBJECTS = ("user__sys", "person__sys", "study__v", "study_country__v", "site__v", "study_person__clin",
               "crm_activity__v")
    USERS = [("Clara", "Oswald"), ("Martin", "Keller"), ("Sofia", "Lindgren"), ("Amir", "Haddad")]
    AREAS = ["Oncology", "Cardiology", "Neurology", "Immunology"]

    def __init__(self, rnd: random.Random, today: date) -> None:
        self.rnd = rnd
        self.today = today
        self.created = _ts(today - timedelta(days=400))
        self.records: dict[str, list[dict]] = {k: [] for k in self.OBJECTS}

    def build(self, people: int) -> dict[str, list[dict]]:
        self.add_users()
        self.add_studies(max(3, people // 40))
        for p in range(people):
            self.add_person(p)
        self.add_activities()
        return self.records

    def record(self, obj_id: str, name: str, user: str = "1000001") -> dict:
        """The fields every Vault object record carries."""
        return {"id": obj_id, "name__v": name, "status__v": ["active__v"], "created_date__v": self.created,
                "modified_date__v": self.created, "created_by__v": user, "modified_by__v": user}

    def add_users(self) -> None:
        users = [("Integration", "User", CTMS_CREDENTIALS["username"])] + [
            (f, ln, f"{f.lower()}.{ln.lower()}@ctms.example.com".replace("'", "")) for f, ln in self.USERS]
        for i, (f, ln, email) in enumerate(users):
            rec = self.record(str(1000001 + i), f"{f} {ln}")
            rec.update(first_name__sys=f, last_name__sys=ln, email__sys=email, username__sys=email)
            self.records["user__sys"].append(rec)

    def add_studies(self, count: int) -> None:
        for s in range(count):
            sid = vault_id("0ST", s + 1)
            rec = self.record(sid, f"CCG-{101 + s:03d} {self.rnd.choice(self.AREAS)}")
            rec["study_number__v"] = f"CCG-{101 + s:03d}"
            self.records["study__v"].append(rec)
            for country in self.rnd.sample(COUNTRIES, 2 + s % 2):
                self.add_study_country(rec, country)

    def add_study_country(self, study: dict, country: str) -> None:
        """A country of a study, with two to four sites."""
        n = len(self.records["study_country__v"]) + 1
        cid = vault_id("0SC", n)
        rec = self.record(cid, f"{study['study_number__v']} {country}")
        rec.update(study__v=study["id"], country__v=country)
        self.records["study_country__v"].append(rec)
        for _ in range(2 + n % 3):
            site_no = len(self.records["site__v"]) + 1
            site = self.record(vault_id("0SI", site_no), f"Site {1000 + site_no} ({country})")
            site.update(study__v=study["id"], study_country__v=cid, site_number__v=str(1000 + site_no))
            self.records["site__v"].append(site)

    def add_person(self, p: int) -> None:
        """Person `p` (names cycle through FIRST and LAST) with one or two study roles."""
        f, ln = FIRST[p % len(FIRST)], LAST[(p * 7 + p // len(FIRST)) % len(LAST)]
        pid = vault_id("0PE", p + 1)
        rec = self.record(pid, f"{f} {ln}")
        email = f"{f.lower()}.{ln.lower()}{p + 1}@hospital.example.org".replace("'", "")
        rec.update(first_name__sys=f, last_name__sys=ln, email__sys=email,
                   external_id__v=f"EXT-{p + 1:06d}", npi_number__c=f"{1000000000 + p * 7919:010d}")
        self.records["person__sys"].append(rec)
        sites = self.records["site__v"]
        since = self.today - timedelta(days=300 + p % 50)
        for r in range(1 + p % 2):
            self.add_role(rec, sites[(p * 3 + r * 5) % len(sites)], ROLES[(p + r) % len(ROLES)], since)

    def add_role(self, person: dict, site: dict, role: str, since: date) -> None:
        roles = self.records["study_person__clin"]
        sp = self.record(vault_id("0SP", len(roles) + 1), f"{person['name__v']} - {role}")
        sp.update(person__clin=person["id"], study__clin=site["study__v"],
                  study_country__clin=site["study_country__v"], site__clin=site["id"], team_role__v=role,
                  start_date__clin=since.isoformat(), end_date__clin=None)
        roles.append(sp)

    def add_activities(self) -> None:
        """One to six activities per person, each in the context of one of the person's roles."""
        roles_of: dict[str, list[dict]] = {}
        for sp in self.records["study_person__clin"]:
            roles_of.setdefault(sp["person__clin"], []).append(sp)
        for person in self.records["person__sys"]:
            for _ in range(self.rnd.randint(1, 6)):
                self.add_activity(person, self.rnd.choice(roles_of[person["id"]]))

    def add_activity(self, person: dict, sp: dict) -> None:
        rnd = self.rnd
        context = rnd.choice([("study__v", sp["study__clin"]), ("study_country__v", sp["study_country__clin"]),
                              ("site__v", sp["site__clin"]), ("study_person__v", sp["id"])])
        day = self.today + timedelta(days=rnd.randint(-180, 60))
        user = rnd.choice(self.records["user__sys"][1:])
        no = len(self.records["crm_activity__v"]) + 1
        rec = self.record(vault_id("0AC", no), f"ACT-{no:06d}", user["id"])
        rec.update({"object_type__v": "clinical_activity__v", "person__v": person["id"],
                    "study__v": None, "study_country__v": None, "site__v": None, "study_person__v": None,
                    context[0]: context[1], "activity_date__v": day.isoformat(),
                    "channel__v": [rnd.choice(VAULT_CHANNELS)],
                    "completed__v": day <= self.today and rnd.random() < 0.8,
                    "subject__v": rnd.choice(TOPICS),
                    "owner__v": f"{user['first_name__sys']} {user['last_name__sys']} ({user['email__sys']})",
                    "crm_org__v": None, "crm_call_id__v": None, "crm_call_key__v": None,
                    "gateway_request__v": None})
        rec["created_date__v"] = rec["modified_date__v"] = _ts(min(day, self.today) - timedelta(days=1))
        self.records["crm_activity__v"].append(rec)


class _OrgSeed:
    """The records of one CRM org: users, one account per CTMS person (with two planted exceptions), calls."""

    OBJECTS = ("User", "Account", "Call2_vod__c", "Vault_Clinical_Interaction_vod__c", "Clinical_Study_vod__c",
               "Clinical_Site_vod__c")
    REPS = {"us": [("Noah", "Fischer"), ("Priya", "Raman"), ("Lena", "Vogel")],
            "eu": [("Hugo", "Marchand"), ("Ingrid", "Berg"), ("Paolo", "Conti")]}

    def __init__(self, org: str, rnd: random.Random, today: date) -> None:
        self.org = org
        self.inst = ORG_INSTANCE[org]
        self.rnd = rnd
        self.today = today
        self.stamp = f"{(today - timedelta(days=400)).isoformat()}T09:00:00.000+0000"
        self.admin = sf_id("005", self.inst, 1)
        self.records: dict[str, list[dict]] = {k: [] for k in self.OBJECTS}

    def build(self, persons: list[dict]) -> dict[str, list[dict]]:
        self.add_users()
        self.add_accounts(persons)
        for account in self.records["Account"]:
            for _ in range(self.rnd.randint(0, 4)):
                self.add_call(account)
        return self.records

    def record(self, obj_id: str, name: str, user: str | None = None) -> dict:
        """The fields every sObject row carries."""
        user = user or self.admin
        return {"Id": obj_id, "Name": name, "CreatedDate": self.stamp, "LastModifiedDate": self.stamp,
                "SystemModstamp": self.stamp, "CreatedById": user, "LastModifiedById": user, "OwnerId": user,
                "IsDeleted": False}

    def add_users(self) -> None:
        reps = [("Integration", "User", CRM_CREDENTIALS["username"])] + [
            (f, ln, f"{f.lower()}.{ln.lower()}@{self.org}.crm.example.com") for f, ln in self.REPS[self.org]]
        for i, (f, ln, email) in enumerate(reps):
            rec = self.record(sf_id("005", self.inst, i + 1), f"{f} {ln}")
            rec.update(FirstName=f, LastName=ln, Email=email, Username=email)
            self.records["User"].append(rec)

    def add_accounts(self, persons: list[dict]) -> None:
        """An account per person, keyed by the external id (us) or the NPI number (eu)."""
        field, source = ("External_ID_vod__c", "external_id__v") if self.org == "us" else \
            ("NPI_Number__c", "npi_number__c")
        for idx, person in enumerate(persons):
            if self.org == "eu" and idx == 0:
                continue  # NO_MATCH: the first person has no account in eu
            copies = 2 if (self.org == "us" and idx == 1) else 1  # CONFLICT: two accounts share one id in us
            for _ in range(copies):
                n = len(self.records["Account"]) + 1
                rec = self.record(sf_id("001", self.inst, n),
                                  f"{person['first_name__sys']} {person['last_name__sys']}")
                rec.update(FirstName=person["first_name__sys"], LastName=person["last_name__sys"],
                           PersonEmail=person["email__sys"], External_ID_vod__c=None, NPI_Number__c=None)
                rec[field] = person[source]
                self.records["Account"].append(rec)

    def add_call(self, account: dict) -> None:
        rnd = self.rnd
        day = self.today + timedelta(days=rnd.randint(-150, 45))
        status = rnd.choice(["Submitted_vod", "Saved_vod"]) if day <= self.today else "Planned_vod"
        user = rnd.choice(self.records["User"][1:])
        n = len(self.records["Call2_vod__c"]) + 1
        rec = self.record(sf_id("a0C", self.inst, n), f"C-{n:07d}", user["Id"])
        rec.update(Account_vod__c=account["Id"], Call_Date_vod__c=day.isoformat(),
                   Call_Datetime_vod__c=f"{day.isoformat()}T14:00:00.000+0000", Status_vod__c=status,
                   Call_Channel_vod__c=rnd.choice(CRM_CHANNELS), Subject_vod__c=rnd.choice(TOPICS),
                   Send_To_Vault_Clinical_vod__c=rnd.random() < 0.5, Gateway_Request_Id__c=None)
        self.records["Call2_vod__c"].append(rec)
