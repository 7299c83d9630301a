// `npm run migrate`: applies pending migrations to DATABASE_URL.
import { migrate } from './orm';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is required');
  process.exit(2);
}
migrate(url).then(
  (applied) => console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Up to date'),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
