// Seeded synthetic population of source records with realistic corruption and a truth person id.
// Households share a family name, address and phone; some households have twins; each person is
// registered at 1–5 sources with typos, nicknames, transposed dates, moves and missing fields.
import type { MpiRecord } from '../../src/mpi/normalize.ts';
import { randInt, seededRng, type Rng } from '../../src/mpi/random.ts';

export interface PopulationOptions {
  size: number;
  seed?: number;
}

export interface PopulationRow {
  record: MpiRecord;
  truthId: string;
}

const MALE = ['james', 'john', 'robert', 'michael', 'william', 'david', 'richard', 'joseph', 'thomas', 'charles', 'christopher', 'daniel', 'matthew', 'anthony', 'mark', 'donald', 'steven', 'paul', 'andrew', 'joshua', 'kenneth', 'kevin', 'brian', 'george', 'timothy', 'ronald', 'edward', 'jason', 'jeffrey', 'ryan', 'jacob', 'gary', 'nicholas', 'eric', 'jonathan', 'stephen', 'larry', 'justin', 'scott', 'brandon', 'benjamin', 'samuel', 'gregory', 'alexander', 'patrick', 'frank', 'raymond', 'jack', 'dennis', 'jerry', 'tyler', 'aaron', 'jose', 'adam', 'nathan', 'henry', 'zachary', 'douglas', 'peter', 'kyle', 'noah', 'ethan', 'jeremy', 'walter', 'christian', 'keith', 'roger', 'terry', 'austin', 'sean', 'gerald', 'carl', 'harold', 'dylan', 'arthur', 'lawrence', 'jordan', 'jesse', 'bryan', 'billy', 'bruce', 'gabriel', 'joe', 'logan', 'alan', 'juan', 'albert', 'willie', 'elijah', 'wayne', 'randy', 'vincent', 'mason', 'roy', 'ralph', 'bobby', 'russell', 'bradley', 'philip', 'eugene'];
const FEMALE = ['mary', 'patricia', 'jennifer', 'linda', 'elizabeth', 'barbara', 'susan', 'jessica', 'sarah', 'karen', 'lisa', 'nancy', 'betty', 'sandra', 'margaret', 'ashley', 'kimberly', 'emily', 'donna', 'michelle', 'carol', 'amanda', 'melissa', 'deborah', 'stephanie', 'dorothy', 'rebecca', 'sharon', 'laura', 'cynthia', 'amy', 'kathleen', 'angela', 'shirley', 'brenda', 'emma', 'anna', 'pamela', 'nicole', 'samantha', 'katherine', 'christine', 'helen', 'debra', 'rachel', 'carolyn', 'janet', 'maria', 'catherine', 'heather', 'diane', 'olivia', 'julie', 'joyce', 'victoria', 'ruth', 'virginia', 'lauren', 'kelly', 'christina', 'joan', 'evelyn', 'judith', 'andrea', 'hannah', 'megan', 'cheryl', 'jacqueline', 'martha', 'madison', 'teresa', 'gloria', 'sara', 'janice', 'ann', 'kathryn', 'abigail', 'sophia', 'frances', 'jean', 'alice', 'judy', 'isabella', 'julia', 'grace', 'amber', 'denise', 'danielle', 'marilyn', 'beverly', 'charlotte', 'natalie', 'theresa', 'diana', 'brittany', 'doris', 'kayla', 'alexis', 'lori', 'marie'];
const NICKNAMES: Record<string, string[]> = {
  james: ['jim', 'jimmy'], john: ['jack', 'johnny'], robert: ['bob', 'rob', 'bobby'], michael: ['mike', 'mick'],
  william: ['bill', 'will', 'billy'], richard: ['dick', 'rick', 'rich'], joseph: ['joe', 'joey'], thomas: ['tom', 'tommy'],
  charles: ['chuck', 'charlie'], christopher: ['chris'], daniel: ['dan', 'danny'], matthew: ['matt'], anthony: ['tony'],
  steven: ['steve'], andrew: ['andy', 'drew'], kenneth: ['ken', 'kenny'], edward: ['ed', 'ted', 'eddie'],
  margaret: ['peggy', 'maggie', 'meg'], elizabeth: ['liz', 'beth', 'betsy'], patricia: ['pat', 'patty', 'trish'],
  jennifer: ['jen', 'jenny'], susan: ['sue', 'susie'], katherine: ['kate', 'kathy'], deborah: ['deb', 'debbie'],
  rebecca: ['becky'], samantha: ['sam'], victoria: ['vicky', 'tori'], dorothy: ['dot', 'dottie'], kimberly: ['kim'],
};
const SURNAMES = ['smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez', 'gonzalez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee', 'perez', 'thompson', 'white', 'harris', 'sanchez', 'clark', 'ramirez', 'lewis', 'robinson', 'walker', 'young', 'allen', 'king', 'wright', 'scott', 'torres', 'nguyen', 'hill', 'flores', 'green', 'adams', 'nelson', 'baker', 'hall', 'rivera', 'campbell', 'mitchell', 'carter', 'roberts', 'gomez', 'phillips', 'evans', 'turner', 'diaz', 'parker', 'cruz', 'edwards', 'collins', 'reyes', 'stewart', 'morris', 'morales', 'murphy', 'cook', 'rogers', 'gutierrez', 'ortiz', 'morgan', 'cooper', 'peterson', 'bailey', 'reed', 'kelly', 'howard', 'ramos', 'kim', 'cox', 'ward', 'richardson', 'watson', 'brooks', 'chavez', 'wood', 'james', 'bennett', 'gray', 'mendoza', 'ruiz', 'hughes', 'price', 'alvarez', 'castillo', 'sanders', 'patel', 'myers', 'long', 'ross', 'foster', 'jimenez', 'ouellette', 'thibodeau', 'pelletier', 'michaud', 'levesque', 'cyr', 'daigle'];
const SYLLABLES = ['ka', 'ta', 'hd', 'in', 'ber', 'gel', 'mor', 'ton', 'ley', 'son', 'wick', 'ham', 'ott', 'vel', 'stro', 'man', 'ric', 'dal', 'fen', 'ski', 'ner', 'bro', 'lin', 'gar', 'ash', 'pol', 'rud', 'sey', 'zan', 'quin'];
const STREETS = ['main', 'oak', 'pine', 'maple', 'cedar', 'elm', 'washington', 'lake', 'hill', 'park', 'congress', 'forest', 'river', 'church', 'high', 'school', 'mill', 'north', 'union', 'water', 'pleasant', 'spring', 'winter', 'summer', 'ocean', 'harbor', 'bay', 'brook', 'birch', 'chestnut'];
const STREET_TYPES: Array<[string, string]> = [['street', 'st'], ['avenue', 'ave'], ['road', 'rd'], ['drive', 'dr'], ['lane', 'ln']];
const CITIES: Array<[string, string]> = [['portland', '04101'], ['lewiston', '04240'], ['bangor', '04401'], ['south portland', '04106'], ['auburn', '04210'], ['biddeford', '04005'], ['sanford', '04073'], ['saco', '04072'], ['augusta', '04330'], ['westbrook', '04092'], ['waterville', '04901'], ['brunswick', '04011'], ['scarborough', '04074'], ['presque isle', '04769'], ['caribou', '04736'], ['ellsworth', '04605'], ['rockland', '04841'], ['bath', '04530'], ['belfast', '04915'], ['houlton', '04730']];

const pick = <T>(rng: Rng, list: readonly T[]): T => list[randInt(rng, list.length)];
/** Zipf-ish pick: early list entries are much more common, as with real surnames. */
const pickSkewed = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(list.length * rng() ** 2.2)];
const digits = (rng: Rng, n: number) => Array.from({ length: n }, () => randInt(rng, 10)).join('');
const pad = (n: number) => String(n).padStart(2, '0');

function rareSurname(rng: Rng): string {
  return Array.from({ length: 2 + randInt(rng, 2) }, () => pick(rng, SYLLABLES)).join('');
}

interface Address { street: string; city: string; postalCode: string; phone: string }

function makeAddress(rng: Rng): Address {
  const [city, zip] = pick(rng, CITIES);
  const [type] = pick(rng, STREET_TYPES);
  return { street: `${1 + randInt(rng, 400)} ${pick(rng, STREETS)} ${type}`, city, postalCode: zip, phone: `207${digits(rng, 7)}` };
}

interface Person { id: string; given: string; middle?: string; family: string; birthDate: string; sex: 'male' | 'female'; ssn: string; address: Address; email: string }

function makePerson(rng: Rng, id: string, family: string, address: Address, birthDate?: string): Person {
  const sex = rng() < 0.5 ? 'male' : 'female';
  const given = pick(rng, sex === 'male' ? MALE : FEMALE);
  const year = 1930 + randInt(rng, 90);
  const date = birthDate ?? `${year}-${pad(1 + randInt(rng, 12))}-${pad(1 + randInt(rng, 28))}`;
  const middle = rng() < 0.5 ? pick(rng, sex === 'male' ? MALE : FEMALE) : undefined;
  const email = `${given}.${family}.${id.slice(1)}@example.org`;
  return { id, given, middle, family, birthDate: date, sex, ssn: digits(rng, 9), address, email };
}

function typo(rng: Rng, s: string): string {
  if (s.length < 3) return s;
  const i = 1 + randInt(rng, s.length - 2);
  const c = String.fromCharCode(97 + randInt(rng, 26));
  switch (randInt(rng, 4)) {
    case 0: return s.slice(0, i) + c + s.slice(i + 1);
    case 1: return s.slice(0, i) + s.slice(i + 1);
    case 2: return s.slice(0, i) + c + s.slice(i);
    default: return s.slice(0, i - 1) + s[i] + s[i - 1] + s.slice(i + 1);
  }
}

function corruptDate(rng: Rng, date: string): string {
  const [y, m, d] = date.split('-');
  const r = rng();
  if (r < 0.4 && Number(d) <= 12) return `${y}-${d}-${m}`;
  if (r < 0.7) return `${y}-${m}-${pad(Math.min(28, Math.max(1, Number(d) + (rng() < 0.5 ? 1 : -1))))}`;
  return `${Number(y) + (rng() < 0.5 ? 1 : -1)}-${m}-${d}`;
}

function corruptSsn(rng: Rng, ssn: string): string {
  const i = randInt(rng, ssn.length);
  return ssn.slice(0, i) + String((Number(ssn[i]) + 1 + randInt(rng, 9)) % 10) + ssn.slice(i + 1);
}

/** One source registration of a person, with corruption probabilities typical of registration data. */
function sourceRecord(rng: Rng, p: Person, id: string): MpiRecord {
  let given = p.given;
  if (rng() < 0.12 && NICKNAMES[given]) given = pick(rng, NICKNAMES[given]);
  else if (rng() < 0.08) given = typo(rng, given);
  let family = rng() < 0.08 ? typo(rng, p.family) : p.family;
  if (rng() < 0.01) [given, family] = [family, given];
  const moved = rng() < 0.15 ? makeAddress(rng) : p.address;
  const keep = (prob: number) => rng() >= prob;
  return {
    id,
    given: keep(0.02) ? (p.middle && rng() < 0.3 ? [given, p.middle] : [given]) : [],
    family: keep(0.01) ? (rng() < 0.05 ? family.toUpperCase() : family) : '',
    birthDate: keep(0.03) ? (rng() < 0.05 ? corruptDate(rng, p.birthDate) : p.birthDate) : undefined,
    sex: keep(0.05) ? p.sex : undefined,
    ssn: keep(0.55) ? (rng() < 0.02 ? corruptSsn(rng, p.ssn) : p.ssn) : undefined,
    street: keep(0.1) ? (rng() < 0.1 ? typo(rng, moved.street) : moved.street) : undefined,
    city: keep(0.1) ? moved.city : undefined,
    postalCode: keep(0.1) ? moved.postalCode : undefined,
    phone: keep(0.3) ? (moved === p.address ? p.address.phone : moved.phone) : undefined,
    email: keep(0.6) ? p.email : undefined,
  };
}

/** Households of 1–5 people (twins in 3 % of them), each person registered 1–5 times, until `size` records. */
export function generatePopulation(opts: PopulationOptions): PopulationRow[] {
  const rng = seededRng(opts.seed ?? 1);
  const rows: PopulationRow[] = [];
  let personNo = 0;
  while (rows.length < opts.size) {
    const family = rng() < 0.7 ? pickSkewed(rng, SURNAMES) : rareSurname(rng);
    const address = makeAddress(rng);
    const members: Person[] = [];
    const size = 1 + Math.floor(rng() ** 2 * 5);
    for (let k = 0; k < size; k++) members.push(makePerson(rng, `p${personNo++}`, family, address));
    if (rng() < 0.03) {
      const twin = makePerson(rng, `p${personNo++}`, family, address, members[0].birthDate);
      // Parents do not give twins the same first name.
      if (twin.given !== members[0].given) members.push(twin);
    }
    for (const person of members) {
      const registrations = 1 + Math.floor(rng() ** 1.5 * 5);
      for (let r = 0; r < registrations && rows.length < opts.size; r++) {
        rows.push({ record: sourceRecord(rng, person, `r${rows.length}`), truthId: person.id });
      }
    }
  }
  return rows;
}
