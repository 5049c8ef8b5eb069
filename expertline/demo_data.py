"""The static part of the demo pool: the skills taxonomy, the organisations and the name pools.

Everything here is fictional but shaped like UK public services: NHS trusts and health boards in
the four nations, councils and charities; the words citizens actually say when they call. Phone
numbers come from Ofcom's drama range (+44 7700 900000..900999) and e-mail domains end in
``.example`` (RFC 2606), so nothing in the demo reaches a real person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SkillSeed:
    id: str
    name: str
    broader: str | None = None
    synonyms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    description: str = ""


def _s(
    id_: str,
    name: str,
    broader: str | None,
    synonyms: str,
    keywords: str = "",
    *,
    description: str = "",
) -> SkillSeed:
    """A skill with its ``|``-separated synonyms and keywords (compact to read and edit)."""
    return SkillSeed(id_, name, broader, _split(synonyms), _split(keywords), description)


def _split(terms: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in terms.split("|") if t.strip())


# Area skills (health-and-care, mental-health, social-care, safeguarding, housing-and-money)
# group the taxonomy; few experts hold them directly. general-advice is the IVR's fallback.
SKILLS: tuple[SkillSeed, ...] = (
    _s(
        "health-and-care",
        "Health and care",
        None,
        "health|healthcare",
        "nhs|doctor|gp|nurse|hospital|appointment",
    ),
    _s(
        "dementia",
        "Dementia",
        "health-and-care",
        "dementia|alzheimer's|alzheimers|alzheimer's disease|vascular dementia|memory problems",
        "forgetting|keeps forgetting|forgetful|memory|memory loss|getting lost|gets lost|lost"
        "|wandering|wandering off|wanders|confused|confusion|repeating themselves"
        "|demensia|anghofio|colli cof",
        description="Support for people living with dementia and the people who care for them.",
    ),
    _s(
        "dementia-diagnosis-support",
        "Dementia: diagnosis and memory assessment",
        "dementia",
        "memory clinic|memory assessment|memory service",
        "diagnosis|diagnosed|just been diagnosed|referral|memory test|assessment of memory",
    ),
    _s(
        "dementia-behaviour-and-distress",
        "Dementia: behaviour and distress",
        "dementia",
        "behaviour that challenges|stress and distress",
        "agitated|agitation|aggressive|lashing out|sundowning|hallucinations|shouting|not sleeping",
    ),
    _s(
        "young-onset-dementia",
        "Young-onset dementia",
        "dementia",
        "young onset dementia|early onset dementia|early-onset dementia",
        "early onset|young onset|in his fifties|in her fifties|still working",
    ),
    _s(
        "dementia-end-of-life",
        "Dementia: end of life",
        "dementia",
        "advanced dementia",
        "last stages|final stages|stopped eating|bed bound",
    ),
    _s(
        "stroke-recovery",
        "Stroke recovery",
        "health-and-care",
        "stroke|after a stroke",
        "mini stroke|tia|rehabilitation|speech and language|weakness one side",
    ),
    _s(
        "end-of-life-care",
        "End-of-life and palliative care",
        "health-and-care",
        "end of life|palliative care|hospice",
        "dying|terminal|terminally ill|last days|bereavement",
    ),
    _s(
        "continuing-healthcare",
        "NHS continuing healthcare",
        "health-and-care",
        "continuing healthcare|chc|nhs funded care",
        "checklist|nursing home fees|funded nursing care",
    ),
    _s(
        "falls-prevention",
        "Falls prevention",
        "health-and-care",
        "falls|falls prevention",
        "fall|fell|falling|keeps falling|unsteady|found on the floor",
    ),
    _s(
        "learning-disability",
        "Learning disability",
        "health-and-care",
        "learning disability|learning disabilities|learning difficulties",
        "down's syndrome|downs syndrome|supported living|annual health check",
    ),
    _s(
        "autism",
        "Autism",
        "health-and-care",
        "autism|autistic|asd|asperger's",
        "meltdown|sensory overload|neurodivergent|autism assessment",
    ),
    _s(
        "sensory-loss",
        "Sensory loss",
        "health-and-care",
        "sensory loss|sensory impairment",
        "deafblind|hearing and sight",
    ),
    _s(
        "deaf-and-hard-of-hearing",
        "Deaf and hard of hearing",
        "sensory-loss",
        "deaf|hard of hearing|hearing loss|deafness",
        "hearing aid|cochlear|tinnitus|lip reading",
    ),
    _s(
        "sight-loss",
        "Sight loss",
        "sensory-loss",
        "sight loss|visual impairment|blind|partially sighted",
        "losing my sight|macular|glaucoma|cataracts|guide dog|eye clinic",
    ),
    _s(
        "substance-misuse",
        "Drugs and alcohol",
        "health-and-care",
        "substance misuse|drug and alcohol|addiction",
        "drinking|alcohol|drugs|overdose|detox|heroin|cocaine",
    ),
    _s(
        "mental-health",
        "Mental health",
        "health-and-care",
        "mental health|mental wellbeing",
        "anxiety|depression|low mood|panic attacks|stress",
    ),
    _s(
        "mental-health-crisis",
        "Mental health crisis",
        "mental-health",
        "mental health crisis|crisis team|crisis line",
        "breakdown|can't cope|cannot cope|psychosis|hearing voices|sectioned"
        "|argyfwng iechyd meddwl",
    ),
    _s(
        "suicide-prevention",
        "Suicide prevention",
        "mental-health-crisis",
        "suicidal|suicide|suicidal thoughts|want to die|end my life|kill myself",
        "no reason to live|better off without me|can't go on",
    ),
    _s(
        "self-harm",
        "Self-harm",
        "mental-health-crisis",
        "self-harm|self harm|self-injury",
        "cutting|hurting myself|harming myself|burning myself",
    ),
    _s(
        "perinatal-mental-health",
        "Perinatal mental health",
        "mental-health",
        "perinatal mental health|postnatal depression|post-natal depression",
        "pregnant|new baby|after the birth|new mum",
    ),
    _s(
        "social-care",
        "Social care",
        None,
        "social care|social services|social worker",
        "council care|home care|care package",
    ),
    _s(
        "adult-social-care-assessment",
        "Adult social care assessment",
        "social-care",
        "care needs assessment|needs assessment|care act assessment",
        "care package|carers coming in|home care|help at home|care home|can't manage at home",
    ),
    _s(
        "hospital-discharge",
        "Hospital discharge support",
        "social-care",
        "hospital discharge|discharge to assess",
        "coming out of hospital|leaving hospital|discharged|home from hospital",
    ),
    _s(
        "carers-support",
        "Carers' support",
        "social-care",
        "carer|carers|unpaid carer|caring for someone",
        "looking after|look after|caring for|respite|break from caring|exhausted carer"
        "|gofalwr|gofalwyr",
    ),
    _s(
        "young-carers",
        "Young carers",
        "carers-support",
        "young carer|young carers",
        "school|my child looks after|teenager caring|under 18",
    ),
    _s(
        "carers-assessment",
        "Carers' assessment",
        "carers-support",
        "carer's assessment|carers assessment|carer's needs assessment",
        "carers allowance|support for me as a carer",
    ),
    _s("safeguarding", "Safeguarding", None, "safeguarding", "at risk|worried about someone"),
    _s(
        "safeguarding-adults",
        "Safeguarding adults",
        "safeguarding",
        "adult safeguarding|vulnerable adult|adult at risk",
        "neglect|financial abuse|scammed|exploited|self-neglect|hoarding|elder abuse",
    ),
    _s(
        "safeguarding-children",
        "Safeguarding children",
        "safeguarding",
        "child protection|children's safeguarding|child at risk",
        "child abuse|worried about a child|neglected child|grooming|exploitation",
    ),
    _s(
        "domestic-abuse",
        "Domestic abuse",
        "safeguarding",
        "domestic abuse|domestic violence|coercive control",
        "partner hits me|abusive partner|not safe at home|refuge|controlling|threatened",
    ),
    _s(
        "housing-and-money",
        "Housing and money",
        None,
        "housing and money",
        "money|bills|rent|cost of living",
    ),
    _s(
        "housing-homelessness",
        "Housing and homelessness",
        "housing-and-money",
        "homeless|homelessness|housing|digartref",
        "nowhere to live|nowhere to sleep|housing list|temporary accommodation|landlord"
        "|sofa surfing",
    ),
    _s(
        "eviction",
        "Eviction",
        "housing-homelessness",
        "eviction|evicted|section 21",
        "notice to quit|being kicked out|possession order|bailiffs",
    ),
    _s(
        "rough-sleeping",
        "Rough sleeping",
        "housing-homelessness",
        "rough sleeping|sleeping rough|street homeless",
        "sleeping on the street|sleeping outside|streetlink|sleeping in a car",
    ),
    _s(
        "benefits-advice",
        "Benefits advice",
        "housing-and-money",
        "benefits|welfare benefits",
        "dwp|entitled to|pension credit|attendance allowance|esa|jobseeker",
    ),
    _s(
        "universal-credit",
        "Universal Credit",
        "benefits-advice",
        "universal credit|uc",
        "journal|sanction|advance payment|work coach|managed migration",
    ),
    _s(
        "pip-claims",
        "Personal Independence Payment",
        "benefits-advice",
        "pip|personal independence payment",
        "pip assessment|pip form|mandatory reconsideration|appeal|tribunal",
    ),
    _s(
        "council-tax-support",
        "Council Tax Support",
        "benefits-advice",
        "council tax support|council tax reduction|council tax",
        "council tax bill|single person discount|arrears letter",
    ),
    _s(
        "debt-advice",
        "Debt advice",
        "housing-and-money",
        "debt|debt advice|debts",
        "can't pay|cannot pay|bailiff|arrears|loan|credit card|breathing space",
    ),
    _s(
        "general-advice",
        "General advice",
        None,
        "general enquiry|something else|other",
        "help|advice|question|not sure|don't know",
    ),
)

# Related skills, with the substitution cost the router pays to offer one for the other
# (lower is closer). Stored once per pair, from the first skill to the second.
RELATED: tuple[tuple[str, str, float], ...] = (
    ("dementia", "carers-support", 1.0),
    ("dementia", "falls-prevention", 1.5),
    ("dementia", "continuing-healthcare", 1.2),
    ("dementia-behaviour-and-distress", "mental-health", 1.2),
    ("dementia-end-of-life", "end-of-life-care", 0.4),
    ("young-onset-dementia", "dementia-diagnosis-support", 0.5),
    ("mental-health-crisis", "substance-misuse", 1.2),
    ("self-harm", "suicide-prevention", 0.3),
    ("perinatal-mental-health", "mental-health-crisis", 1.0),
    ("safeguarding-adults", "safeguarding-children", 0.8),
    ("domestic-abuse", "safeguarding-adults", 0.6),
    ("domestic-abuse", "safeguarding-children", 0.7),
    ("adult-social-care-assessment", "safeguarding-adults", 1.0),
    ("autism", "learning-disability", 0.5),
    ("falls-prevention", "stroke-recovery", 0.8),
    ("hospital-discharge", "stroke-recovery", 0.9),
    ("adult-social-care-assessment", "hospital-discharge", 0.6),
    ("adult-social-care-assessment", "continuing-healthcare", 0.7),
    ("continuing-healthcare", "end-of-life-care", 0.9),
    ("adult-social-care-assessment", "carers-assessment", 0.5),
    ("safeguarding-children", "young-carers", 1.5),
    ("domestic-abuse", "housing-homelessness", 1.4),
    ("rough-sleeping", "substance-misuse", 1.3),
    ("debt-advice", "eviction", 0.9),
    ("benefits-advice", "debt-advice", 0.7),
    ("council-tax-support", "debt-advice", 0.8),
    ("adult-social-care-assessment", "pip-claims", 1.6),
    ("debt-advice", "universal-credit", 1.0),
    ("adult-social-care-assessment", "sensory-loss", 1.5),
    ("benefits-advice", "general-advice", 2.0),
    ("carers-support", "general-advice", 2.0),
    ("general-advice", "housing-homelessness", 2.0),
)

HEALTH = {
    "dementia": 8,
    "dementia-diagnosis-support": 5,
    "dementia-behaviour-and-distress": 4,
    "young-onset-dementia": 2,
    "dementia-end-of-life": 2,
    "stroke-recovery": 5,
    "end-of-life-care": 5,
    "continuing-healthcare": 4,
    "falls-prevention": 5,
    "learning-disability": 3,
    "autism": 3,
    "sensory-loss": 1,
    "deaf-and-hard-of-hearing": 2,
    "sight-loss": 2,
    "hospital-discharge": 4,
    "safeguarding-adults": 3,
    "health-and-care": 1,
    "mental-health": 2,
}
MENTAL_HEALTH = {
    "mental-health": 6,
    "mental-health-crisis": 8,
    "suicide-prevention": 6,
    "self-harm": 5,
    "perinatal-mental-health": 3,
    "substance-misuse": 4,
    "dementia-behaviour-and-distress": 2,
    "autism": 2,
    "learning-disability": 2,
    "safeguarding-adults": 2,
    "young-onset-dementia": 1,
}
COUNCIL = {
    "housing-homelessness": 7,
    "eviction": 4,
    "rough-sleeping": 3,
    "benefits-advice": 6,
    "universal-credit": 4,
    "pip-claims": 3,
    "council-tax-support": 5,
    "debt-advice": 4,
    "adult-social-care-assessment": 7,
    "carers-assessment": 3,
    "hospital-discharge": 2,
    "safeguarding-adults": 4,
    "safeguarding-children": 4,
    "general-advice": 4,
    "social-care": 1,
    "housing-and-money": 1,
    "sensory-loss": 1,
    "young-carers": 1,
}
CARERS_CHARITY = {
    "carers-support": 9,
    "young-carers": 4,
    "carers-assessment": 5,
    "dementia": 5,
    "dementia-diagnosis-support": 2,
    "end-of-life-care": 2,
    "benefits-advice": 3,
    "pip-claims": 2,
    "general-advice": 2,
    "dementia-end-of-life": 1,
}
DEMENTIA_CHARITY = {
    "dementia": 10,
    "dementia-diagnosis-support": 5,
    "young-onset-dementia": 4,
    "dementia-behaviour-and-distress": 5,
    "dementia-end-of-life": 3,
    "carers-support": 5,
    "continuing-healthcare": 2,
    "general-advice": 1,
}
ABUSE_CHARITY = {
    "domestic-abuse": 10,
    "safeguarding-adults": 3,
    "safeguarding-children": 4,
    "housing-homelessness": 3,
    "mental-health": 2,
    "self-harm": 1,
    "substance-misuse": 1,
    "safeguarding": 1,
}
# An integrated health and social care trust (Northern Ireland) does both.
INTEGRATED = {
    **HEALTH,
    **{k: v // 2 + 1 for k, v in COUNCIL.items() if k not in HEALTH},
    "mental-health-crisis": 3,
    "safeguarding-children": 3,
}


@dataclass(frozen=True, slots=True)
class OrgSeed:
    id: str
    name: str
    kind: str  # nhs-trust | council | charity (health boards and HSC trusts count as nhs-trust)
    nation: str
    region: str
    domain: str
    share: int  # relative number of experts
    focus: Mapping[str, int]  # skill -> weight when drawing an expert's skills
    people: Mapping[str, int]  # heritage -> weight (names and community languages)
    welsh: float = 0.0  # chance an expert speaks Welsh


ENGLAND_NORTH = {
    "english": 60,
    "pakistani": 10,
    "punjabi": 4,
    "indian": 4,
    "polish": 6,
    "irish": 3,
    "scottish": 3,
    "caribbean": 2,
    "west-african": 3,
    "arabic": 3,
    "chinese": 2,
}
LONDON = {
    "english": 34,
    "pakistani": 8,
    "punjabi": 5,
    "indian": 9,
    "polish": 8,
    "irish": 4,
    "caribbean": 9,
    "west-african": 11,
    "arabic": 8,
    "chinese": 4,
}
MIDLANDS = {
    "english": 52,
    "pakistani": 11,
    "punjabi": 10,
    "indian": 9,
    "polish": 6,
    "caribbean": 5,
    "west-african": 3,
    "arabic": 2,
    "irish": 2,
}
SOUTH = {
    "english": 70,
    "indian": 6,
    "pakistani": 4,
    "polish": 7,
    "west-african": 4,
    "caribbean": 3,
    "arabic": 2,
    "irish": 2,
    "chinese": 2,
}
WALES = {
    "welsh": 62,
    "english": 28,
    "polish": 3,
    "pakistani": 2,
    "indian": 2,
    "arabic": 2,
    "west-african": 1,
}
SCOTLAND = {
    "scottish": 74,
    "english": 10,
    "polish": 7,
    "pakistani": 4,
    "irish": 2,
    "chinese": 2,
    "arabic": 1,
}
NORTHERN_IRELAND = {
    "irish": 82,
    "scottish": 4,
    "english": 5,
    "polish": 6,
    "chinese": 2,
    "arabic": 1,
}

ORGANISATIONS: tuple[OrgSeed, ...] = (
    OrgSeed(
        "nhs-north-pennine",
        "North Pennine Community Health NHS Foundation Trust",
        "nhs-trust",
        "england",
        "North East and Cumbria",
        "northpennine.nhs.example",
        14,
        HEALTH,
        ENGLAND_NORTH,
    ),
    OrgSeed(
        "nhs-thamesvale-mh",
        "Thamesvale Mental Health NHS Trust",
        "nhs-trust",
        "england",
        "South East",
        "thamesvale.nhs.example",
        10,
        MENTAL_HEALTH,
        SOUTH,
    ),
    OrgSeed(
        "wharfedale-council",
        "Wharfedale Metropolitan Borough Council",
        "council",
        "england",
        "Yorkshire and the Humber",
        "wharfedale.gov.example",
        10,
        COUNCIL,
        ENGLAND_NORTH,
    ),
    OrgSeed(
        "kingsmere-council",
        "London Borough of Kingsmere",
        "council",
        "england",
        "London",
        "kingsmere.gov.example",
        10,
        COUNCIL,
        LONDON,
    ),
    OrgSeed(
        "memory-lane-alliance",
        "Memory Lane Dementia Alliance",
        "charity",
        "england",
        "National",
        "memorylane.org.example",
        9,
        DEMENTIA_CHARITY,
        SOUTH,
        welsh=0.02,
    ),
    OrgSeed(
        "safe-harbour",
        "Safe Harbour Domestic Abuse Service",
        "charity",
        "england",
        "North West",
        "safeharbour.org.example",
        5,
        ABUSE_CHARITY,
        ENGLAND_NORTH,
    ),
    OrgSeed(
        "midlands-carers",
        "Midlands Carers Partnership",
        "charity",
        "england",
        "West Midlands",
        "midlandscarers.org.example",
        6,
        CARERS_CHARITY,
        MIDLANDS,
    ),
    OrgSeed(
        "bi-eryri-dyfi",
        "Bwrdd Iechyd Eryri a Dyfi (fictional Welsh health board)",
        "nhs-trust",
        "wales",
        "North and Mid Wales",
        "eryridyfi.wales.nhs.example",
        10,
        {**HEALTH, "mental-health-crisis": 3, "carers-support": 2},
        WALES,
        welsh=0.6,
    ),
    OrgSeed(
        "cyngor-sir-teifi",
        "Cyngor Sir Teifi / Teifi County Council",
        "council",
        "wales",
        "West Wales",
        "teifi.gov.wales.example",
        6,
        COUNCIL,
        WALES,
        welsh=0.55,
    ),
    OrgSeed(
        "nhs-caledon",
        "NHS Caledon (fictional Scottish health board)",
        "nhs-trust",
        "scotland",
        "Central Scotland",
        "caledon.scot.nhs.example",
        9,
        {**HEALTH, **MENTAL_HEALTH, "dementia": 6},
        SCOTLAND,
    ),
    OrgSeed(
        "alba-carers",
        "Alba Carers and Dementia Network",
        "charity",
        "scotland",
        "Highlands and Islands",
        "albacarers.org.example",
        4,
        {**CARERS_CHARITY, "dementia": 7},
        SCOTLAND,
    ),
    OrgSeed(
        "lagan-mourne-hsc",
        "Lagan and Mourne Health and Social Care Trust",
        "nhs-trust",
        "northern-ireland",
        "Belfast and South East",
        "laganmourne.hscni.example",
        7,
        INTEGRATED,
        NORTHERN_IRELAND,
    ),
)

# (org_a, org_b, purpose, starts_on, ends_on): a handful, far from every pair.
AGREEMENTS: tuple[tuple[str, str, str, str, str | None], ...] = (
    (
        "memory-lane-alliance",
        "nhs-north-pennine",
        "dementia advice line overflow",
        "2024-04-01",
        None,
    ),
    (
        "memory-lane-alliance",
        "midlands-carers",
        "carers of people with dementia",
        "2025-01-01",
        None,
    ),
    (
        "kingsmere-council",
        "safe-harbour",
        "domestic abuse and homelessness referrals",
        "2023-10-01",
        "2027-09-30",
    ),
    (
        "kingsmere-council",
        "nhs-thamesvale-mh",
        "out-of-hours mental health crisis support",
        "2024-06-01",
        None,
    ),
    (
        "bi-eryri-dyfi",
        "cyngor-sir-teifi",
        "integrated health and social care for Welsh speakers",
        "2023-04-01",
        None,
    ),
    (
        "alba-carers",
        "nhs-caledon",
        "dementia and carers support across Scotland",
        "2024-09-01",
        None,
    ),
    (
        "nhs-north-pennine",
        "wharfedale-council",
        "hospital discharge and care assessments",
        "2022-04-01",
        "2025-03-31",
    ),
)


def _names(given: str, family: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(given.split()), tuple(family.split())


# Given names and surnames by heritage, and the community language (with its likelihood)
# an expert of that heritage speaks besides English.
NAMES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "english": _names(
        "Olivia Amelia Emily Sophie Grace Charlotte Hannah Lucy Rebecca Claire Sarah "
        "Helen Joanne Karen Oliver George Harry Jack Thomas James William Daniel Matthew "
        "Paul Richard Stephen Andrew Jo Sam Alex",
        "Smith Jones Taylor Brown Wilson Johnson Robinson Wright Thompson Walker White "
        "Hughes Green Hall Wood Harris Clarke Jackson Turner Hill Moore Cooper Ward "
        "Morris King Baker Harrison Shaw Holmes Atkinson",
    ),
    "welsh": _names(
        "Rhys Dafydd Gethin Iwan Owain Aled Emyr Huw Carys Siân Ffion Cerys Nia Eleri "
        "Gwenllian Angharad Manon Lowri Bethan Elin Geraint Llinos",
        "Jones Williams Davies Evans Thomas Roberts Hughes Lewis Morgan Griffiths Price "
        "Pritchard Llewellyn Owen Parry Rees Powell Jenkins",
    ),
    "scottish": _names(
        "Callum Fraser Hamish Euan Ruairidh Lachlan Finlay Morag Eilidh Catriona Kirsty "
        "Isla Mhairi Fiona Ailsa Iain",
        "MacDonald Campbell Stewart Robertson MacLeod Fraser Murray Reid Ross Paterson "
        "Ferguson Mackenzie Sinclair Grant Boyd",
    ),
    "irish": _names(
        "Ciarán Seán Niall Eoin Declan Pádraig Siobhan Aoife Niamh Orla Róisín Clodagh "
        "Gráinne Conor Ruth Mark",
        "O'Neill McCann Murphy Kelly Doherty Quinn McLaughlin Gallagher Devlin Hagan "
        "Magee Boyle Fitzpatrick Wilson",
    ),
    "pakistani": _names(
        "Aisha Fatima Zainab Nadia Amina Sana Imran Bilal Tariq Hassan Mohammed Usman Asif Saima",
        "Khan Hussain Iqbal Akhtar Chaudhry Begum Ahmed Mahmood Rashid Bibi",
    ),
    "punjabi": _names(
        "Harpreet Gurpreet Simran Jaswinder Manjit Kulwinder Amrit Rajinder Navdeep Baljit",
        "Singh Kaur Gill Sandhu Dhillon Sidhu Bains Johal",
    ),
    "indian": _names(
        "Priya Anjali Sunita Meera Rajesh Sanjay Arjun Vikram Deepa Nikhil",
        "Patel Sharma Mistry Shah Desai Nair Menon Joshi",
    ),
    "polish": _names(
        "Agnieszka Katarzyna Magdalena Joanna Anna Marta Piotr Tomasz Krzysztof Paweł "
        "Marcin Łukasz Michał",
        "Nowak Wójcik Kaczmarek Mazur Krawczyk Zając Król Wieczorek Pawlak Michalak Sikora Baran",
    ),
    "arabic": _names(
        "Omar Yusuf Khalid Samir Karim Layla Mariam Noor Huda Rania Salma Amira",
        "Al-Sayed Haddad Mansour Nasser Saleh Hamdan Khalil Farah Ibrahim Abdullah",
    ),
    "west-african": _names(
        "Chidi Emeka Tunde Kwame Kofi Chioma Ngozi Adaeze Funmilayo Abena Efua Yaw",
        "Okafor Adeyemi Mensah Okoro Balogun Boateng Nwosu Asante Eze Ogunleye",
    ),
    "caribbean": _names(
        "Marcus Andre Leon Jermaine Shanice Keisha Simone Marcia Denise Delroy",
        "Campbell Francis Brown Clarke Grant Edwards Baptiste Joseph Williams Henry",
    ),
    "chinese": _names(
        "Wei Mei Jun Hui Ying Ling Kai Xin",
        "Chen Wong Li Zhang Lam Cheung Liu Ng",
    ),
}

COMMUNITY_LANGUAGE: Mapping[str, tuple[tuple[str, float], ...]] = {
    "pakistani": (("ur", 0.55), ("pa", 0.2)),
    "punjabi": (("pa", 0.65),),
    "polish": (("pl", 0.85),),
    "arabic": (("ar", 0.75),),
    "welsh": (("cy", 0.8),),
}

# Where experts work from: most in the UK, some abroad (experts can be anywhere).
TIME_ZONES: tuple[tuple[str, int], ...] = (
    ("Europe/London", 880),
    ("Europe/Madrid", 40),
    ("Australia/Sydney", 25),
    ("America/Toronto", 20),
    ("Asia/Dubai", 20),
    ("Europe/Warsaw", 10),
    ("Europe/Dublin", 5),
)

SKILL_COUNTS = {1: 12, 2: 25, 3: 28, 4: 18, 5: 11, 6: 6}  # skills per expert -> weight
LEVELS = {1: 6, 2: 24, 3: 36, 4: 26, 5: 8}  # proficiency -> weight

MENU_SKILLS = (
    "dementia",
    "carers-support",
    "mental-health-crisis",
    "safeguarding-adults",
    "safeguarding-children",
    "domestic-abuse",
    "housing-homelessness",
    "benefits-advice",
    "adult-social-care-assessment",
    "general-advice",
)
