# One image for the web app and the workers (docker-compose.yml picks the command).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx (a runtime dependency) runs the TypeScript sources directly: no build step.
RUN npm ci --no-audit --no-fund --omit=dev
COPY . .
USER node
CMD ["node", "bin/gazette.js", "worker"]
