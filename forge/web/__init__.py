"""Read-only HTML pages of the forge, for people following its links: a repository, a pull request (body,
conversation, reviews, statuses, files) and an issue. Signed in with HTTP Basic (login and token), as git
is; private repositories answer 404 to those who may not read them, as GitHub does."""
