/*
 * demo.js - drives the demo feed (index.html) with likes.js: builds one
 * post per item of the feed's data-posts from the page's template, reads
 * their counts and whether this user liked each (getMine, so a reload
 * shows red hearts), turns heart taps into like/unlike, and draws each
 * post's state and the number of requests sent. Query parameters, so a
 * test can run it fast: user (X-User-Id, default demo-user), debounce and
 * backoff (ms), retries. Sets window.likesReady once the first reads are
 * done, whether they succeeded or not.
 */
import { createLikes } from './likes.js';

const params = new URLSearchParams(location.search);
const user = params.get('user') || 'demo-user';
const posts = buildFeed(document.getElementById('feed'),
	document.getElementById('post-template'));
const sent = { all: 0, ops: 0 };

const likes = createLikes({
	user,
	debounceMs: numberParam('debounce', 2000),
	retries: numberParam('retries', 4),
	backoffMs: numberParam('backoff', 250),
	onRequest: countRequest,
	onChange: (item, state) => {
		if (state.counter === 'likes')
			draw(state);
	},
});

/* One article per item of the feed's data-posts, from the template;
 * item -> its article. */
function buildFeed(feed, template) {
	const posts = new Map();
	feed.dataset.posts.split(' ').forEach((item, i) => {
		const post = template.content.firstElementChild.cloneNode(true);
		const name = `Post ${i + 1}`;
		post.dataset.item = item;
		post.setAttribute('aria-labelledby', `title-${i + 1}`);
		post.querySelector('.photo').classList.add(`photo-${(i % 4) + 1}`);
		post.querySelector('.photo').setAttribute('aria-label', `Photo of ${name.toLowerCase()}`);
		post.querySelector('h2').id = `title-${i + 1}`;
		post.querySelector('h2').textContent = name;
		post.querySelector('.like').setAttribute('aria-label', `Like ${name.toLowerCase()}`);
		feed.append(post);
		posts.set(item, post);
	});
	return posts;
}

/* A non-negative number from the query, else the default. */
function numberParam(name, fallback) {
	const raw = params.get(name);
	const value = Number(raw);
	return raw !== null && raw !== '' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

function countRequest({ method, path }) {
	sent.all++;
	if (method === 'POST' && path === '/v1/ops')
		sent.ops++;
	document.getElementById('sent').textContent = String(sent.all);
	document.getElementById('sent-ops').textContent = String(sent.ops);
}

function draw(state) {
	const post = posts.get(state.item);
	if (!post)
		return;
	post.querySelector('.like').setAttribute('aria-pressed', String(state.member));
	post.querySelector('.count').textContent = state.display;
	post.querySelector('.confirmed').textContent = state.confirmed.display;
	post.querySelector('.status').textContent =
		state.status === 'rolled back' ? `rolled back: ${state.reason}` : state.status;
}

/* The outcome of a tap is drawn through onChange, so the promise that
 * like() and unlike() return (which never rejects) is not needed here. */
function toggle(item) {
	if (likes.state(item).member)
		likes.unlike(item);
	else
		likes.like(item);
}

document.getElementById('user').textContent = user;
document.getElementById('feed').addEventListener('click', (event) => {
	const button = event.target.closest('button.like');
	if (button)
		toggle(button.closest('[data-item]').dataset.item);
});
/* A page being left sends its taps now rather than after the window. */
document.addEventListener('visibilitychange', () => {
	if (document.visibilityState === 'hidden')
		likes.flush();
});

for (const item of posts.keys())
	draw(likes.state(item));
/* Counts and this user's hearts, read together; a failure of either is
 * shown and the page still works (taps are confirmed by their answers). */
const items = [...posts.keys()];
Promise.all([
	likes.getCounts(items, ['likes']).catch((err) => `counts could not be read (${err.reason})`),
	likes.getMine(items).then((got) => {
		const failed = Object.values(got.failed);
		return failed.length ? `your likes could not be read (${failed[0]})` : null;
	}),
]).then((results) => {
	const problems = results.filter((r) => typeof r === 'string');
	if (problems.length)
		document.getElementById('notice').textContent = `Note: ${problems.join('; ')}.`;
	window.likesReady = true;
});
