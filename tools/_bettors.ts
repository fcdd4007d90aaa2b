/**
 * The bettors of the dataset generator (`gen_data.ts`): Argentine first and
 * last names (accents, compound names, apostrophes as in "D'Alessandro"),
 * birthdates from 1940-01-01 to 2005-12-31 and 8-digit documents that grow
 * with the birthdate like real DNIs, one agency file row at a time.
 *
 * @module
 */

// deno-fmt-ignore
const MALE_NAMES = [
  "Juan", "José", "Carlos", "Luis", "Jorge", "Miguel", "Diego", "Martín", "Sebastián", "Matías",
  "Nicolás", "Facundo", "Santiago", "Joaquín", "Tomás", "Agustín", "Lucas", "Gonzalo", "Hernán",
  "Ramón", "Héctor", "Rubén", "Raúl", "Andrés", "Fernando", "Alejandro", "Pablo", "Ricardo",
  "Eduardo", "Sergio", "Marcelo", "Gustavo", "Daniel", "Oscar", "Néstor", "Mariano", "Germán",
  "Julián", "Maximiliano", "Ezequiel", "Benjamín", "Valentín", "Bautista", "Thiago", "Iván",
  "Cristián", "Damián", "Fabián", "Adrián", "Ignacio", "Emiliano", "Leandro", "Gastón", "Ángel",
];
// deno-fmt-ignore
const FEMALE_NAMES = [
  "María", "Ana", "Laura", "Lucía", "Sofía", "Valentina", "Camila", "Martina", "Florencia",
  "Agustina", "Micaela", "Julieta", "Carolina", "Gabriela", "Silvia", "Graciela", "Susana",
  "Mónica", "Verónica", "Andrea", "Paula", "Natalia", "Romina", "Belén", "Inés", "Mercedes",
  "Beatriz", "Alicia", "Rocío", "Milagros", "Catalina", "Josefina", "Guadalupe", "Victoria",
  "Celeste", "Noelia", "Soledad", "Mariana", "Lorena", "Daniela", "Cecilia", "Elena", "Raquel",
  "Pilar", "Luján", "Abril", "Ramona", "Estela", "Rosa", "Marta", "Nélida", "Irene", "Begoña",
];
// deno-fmt-ignore
const LAST_NAMES = [
  "González", "Rodríguez", "Gómez", "Fernández", "López", "Díaz", "Martínez", "Pérez", "García",
  "Sánchez", "Romero", "Sosa", "Álvarez", "Torres", "Ruiz", "Ramírez", "Flores", "Acosta",
  "Benítez", "Medina", "Suárez", "Herrera", "Aguirre", "Pereyra", "Gutiérrez", "Giménez",
  "Molina", "Silva", "Castro", "Rojas", "Ortiz", "Núñez", "Luna", "Juárez", "Cabrera", "Ríos",
  "Ferreyra", "Godoy", "Morales", "Domínguez", "Moreno", "Peralta", "Vega", "Carrizo", "Quiroga",
  "Castillo", "Ledesma", "Muñoz", "Ojeda", "Ponce", "Vera", "Vázquez", "Villalba", "Cardozo",
  "Navarro", "Ramos", "Arias", "Coronel", "Córdoba", "Figueroa", "Correa", "Cáceres", "Vargas",
  "Maldonado", "Mansilla", "Farías", "Rivero", "Paz", "Miranda", "Roldán", "Méndez", "Lucero",
  "Cruz", "Hernández", "Agüero", "Páez", "Blanco", "Mendoza", "Barrios", "Escobar", "Ávila",
  "Soria", "Leiva", "Acuña", "Martín", "Maidana", "Moyano", "Campos", "Olivera", "Duarte",
  "Ibáñez", "Bustos", "Chávez", "Toledo", "Rossi", "Russo", "Ferrari", "Bianchi", "Romano",
  "Colombo", "Bruno", "Costa", "Fontana", "Marino", "Greco", "Esposito", "Lombardi", "Mancini",
  "Fernández Núñez", "Echeverría", "Etcheverry", "Goñi", "Iturriaga", "Schmidt", "Müller",
];
// Surnames with particles or apostrophes, drawn now and then.
// deno-fmt-ignore
const PARTICLE_LAST_NAMES = [
  "D'Alessandro", "D'Angelo", "D'Onofrio", "Dall'Orso", "Di Stéfano", "Di María", "De la Fuente",
  "Del Valle", "De los Santos", "San Martín", "Da Silva", "O'Higgins",
];

const BIRTH_FIRST_DAY = daysFromCivil(1940, 1, 1);
const BIRTH_DAYS = daysFromCivil(2005, 12, 31) - BIRTH_FIRST_DAY + 1;
const DOCUMENT_MIN = 10_000_000;
const DOCUMENT_SPAN_BY_AGE = 39_000_000;
const DOCUMENT_NOISE = 1_000_000;

function pick(random: () => number, list: readonly string[]): string {
  return list[Math.floor(random() * list.length)];
}

/** Every birthdate's text, by day index from 1940-01-01 (24,107 strings, built once). */
const BIRTHDATES = Array.from({ length: BIRTH_DAYS }, (_, i) => civilText(BIRTH_FIRST_DAY + i));

/**
 * One agency file row of a random bettor betting on `number`. The name lists
 * hold no character that needs quoting (the tests parse every row back), so the row is
 * joined directly, which keeps the generator above 1M rows/s.
 */
export function randomRow(random: () => number, number: number): string {
  const names = random() < 0.5 ? MALE_NAMES : FEMALE_NAMES;
  let firstName = pick(random, names);
  if (random() < 0.25) {
    const second = pick(random, names);
    if (second !== firstName) firstName = `${firstName} ${second}`;
  }
  const roll = random();
  let lastName: string;
  if (roll < 0.04) lastName = pick(random, PARTICLE_LAST_NAMES);
  else if (roll < 0.12) lastName = `${pick(random, LAST_NAMES)} ${pick(random, LAST_NAMES)}`;
  else lastName = pick(random, LAST_NAMES);

  const dayIndex = Math.floor(random() * BIRTH_DAYS);
  // Older people hold lower documents, as with real DNIs; the noise keeps it loose.
  const document = DOCUMENT_MIN + Math.floor((dayIndex / BIRTH_DAYS) * DOCUMENT_SPAN_BY_AGE) +
    Math.floor(random() * DOCUMENT_NOISE);
  return `${firstName},${lastName},${document},${BIRTHDATES[dayIndex]},${number}\n`;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** `YYYY-MM-DD` of a day counted from 1970-01-01 (inverse of {@linkcode daysFromCivil}). */
function civilText(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${month < 10 ? "0" : ""}${month}-${day < 10 ? "0" : ""}${day}`;
}
